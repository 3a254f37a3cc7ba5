package io.fitprune.decoder;

/** Wall time per phase of the layers run on a state, when profiling is on ({@link DecoderState#profile()}). */
public final class Profile {
  /** "attention+scores" is the one fused pass of the layers that prune with scores; "attention" the others'. */
  public static final String[] PHASES = {"input-norm", "qkv", "rope", "attention", "attention+scores", "select",
      "gather", "o-proj", "mlp"};
  static final int NORM = 0, QKV = 1, ROPE = 2, ATTENTION = 3, SCORES = 4, SELECT = 5, GATHER = 6, O_PROJ = 7, MLP = 8;

  final long[] nanos = new long[PHASES.length];

  /** Adds the time since {@code since} (a {@link System#nanoTime}) to a phase; null profiles are skipped by callers. */
  void add(int phase, long since) {
    nanos[phase] += System.nanoTime() - since;
  }

  /** Seconds per phase, in {@link #PHASES} order. */
  public double[] seconds() {
    double[] out = new double[nanos.length];
    for (int i = 0; i < out.length; i++) out[i] = nanos[i] / 1e9;
    return out;
  }

  public void addTo(Profile total) {
    for (int i = 0; i < nanos.length; i++) total.nanos[i] += nanos[i];
  }
}
