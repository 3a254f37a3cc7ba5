package io.fitprune.bench;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderRuntime;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.eval.Evaluation;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.bytedeco.pytorch.global.torch;

/**
 * Accuracy of BF16 weights against float32 on the same values, at LLaVA-1.5-7B's layer size
 * (D = 4096, F = 11008, 650 tokens = 35 + 576 + 39) for a few layers (a float32 copy of all 32
 * would not fit in 24 GB): cosine of the final hidden state of the bf16 run to the float32 run,
 * unpruned and with half the visual tokens dropped after the first layer. Not a timing.
 * {@code java -cp benchmarks/target/benchmarks.jar io.fitprune.bench.Bf16Cosine [layers]}
 */
public final class Bf16Cosine {
  private Bf16Cosine() {}

  public static void main(String[] args) {
    DecoderRuntime.tuneProcess();
    int layers = args.length > 0 ? Integer.parseInt(args[0]) : 4;
    int P = 35, V = 576, T = 39, n = P + V + T;
    DecoderConfig c = new DecoderConfig(new Geometry("llava-1.5-7b", layers, 4096, 32, 32, 128, 11008, V, P, T), 32064,
        10000.0, 1e-5);
    DecoderWeights bf16 = DecoderWeights.random(c, 1).converted(torch.ScalarType.BFloat16);
    DecoderWeights fp32 = bf16.converted(torch.ScalarType.Float); // exactly the bf16 values
    Decoder d16 = new Decoder(bf16), d32 = new Decoder(fp32);
    Random r = new Random(2);
    float[] e = new float[n * c.hidden()];
    for (int i = 0; i < e.length; i++) e[i] = (float) (0.02 * r.nextGaussian()); // embedding-table scale: the layers dominate
    int[] prune = new int[layers];
    prune[0] = V / 2;
    for (Pruner p : new Pruner[] {Pruner.none(), Pruner.fitprune(prune, V)}) {
      try (Decoder.Prefill a = d16.prefill(e, new Spans(P, V), p, 4); Decoder.Prefill b = d32.prefill(e, new Spans(P, V), p, 4)) {
        int[] ta = d16.generate(a, 4), tb = d32.generate(b, 4);
        long same = Arrays.stream(a.state().visualIds()).filter(id -> Arrays.binarySearch(b.state().visualIds(), id) >= 0).count();
        System.out.printf(Locale.ROOT, "%d layers, %s: cosine(bf16, fp32) of the final hidden state %.6f; %d of %d kept visual "
            + "tokens the same; greedy tokens %s / %s%n", layers, p.name(), Evaluation.cosine(a.lastHidden(), b.lastHidden()),
            same, b.state().visual(), Arrays.toString(ta), Arrays.toString(tb));
      }
    }
  }
}
