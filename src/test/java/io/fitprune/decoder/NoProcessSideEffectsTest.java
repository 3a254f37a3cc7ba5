package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.FitPruneNative;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Loading and using the decoder leaves the process's settings alone; only {@link
 * DecoderRuntime#tuneProcess} changes them. Checked in a fresh JVM, since the test JVM has long
 * since loaded everything (and the command-line tests tune it).
 */
class NoProcessSideEffectsTest {
  /**
   * The child: with "pin", first pins both thread counts to 1 (loading libtorch); without it the
   * decoder is the first to load anything, so settings made while its classes load would take
   * effect. "tune" then opts in. It runs the decoder and prints what it sees.
   */
  public static void main(String[] args) {
    List<String> a = List.of(args);
    if (a.contains("pin")) {
      torch.set_num_threads(1);
      Kernels.useThreads(1);
    }
    if (a.contains("tune")) DecoderRuntime.tuneProcess();
    DecoderConfig c = DecoderTest.CFG;
    Decoder dec = new Decoder(DecoderWeights.random(c, 3));
    float[] e = DecoderTest.embeds(4, DecoderTest.N, c.hidden());
    try (Decoder.Prefill p = dec.prefill(e, new Spans(DecoderTest.P, DecoderTest.V),
        Pruner.fitprune(new int[] {2, 0, 1}, DecoderTest.V), 2)) {
      dec.generate(p, 2);
    }
    boolean gomp;
    try {
      gomp = Files.readString(Path.of("/proc/self/maps")).contains("libgomp");
    } catch (Exception ex) {
      gomp = false;
    }
    // With libgomp loaded this only reads OMP_WAIT_POLICY from the native environment.
    int passive = gomp ? FitPruneNative.fp_prefer_passive_omp() : -1;
    System.out.println("torch=" + torch.get_num_threads() + " kernels=" + Kernels.threads() + " gomp=" + gomp
        + " passive=" + passive);
  }

  static String child(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path")));
    String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
    if (cache != null) cmd.add(2, "-Dorg.bytedeco.javacpp.cachedir=" + cache);
    cmd.add(NoProcessSideEffectsTest.class.getName());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("OMP_WAIT_POLICY");
    pb.environment().remove("FITPRUNE_THREADS");
    pb.environment().remove("FITPRUNE_RUNTIME_TUNE");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM timed out");
    assertEquals(0, p.exitValue(), out);
    String[] lines = out.strip().split("\n");
    return lines[lines.length - 1];
  }

  @Test
  void loadingAndUsingTheDecoderChangesNoProcessSetting() throws Exception {
    String line = child("pin");
    assertTrue(line.startsWith("torch=1 kernels=1 "), "thread counts left as the program set them: " + line);
    line = child();
    if (line.contains("gomp=true")) assertTrue(line.endsWith("passive=0"), "OMP_WAIT_POLICY left unset: " + line);
  }

  @Test
  void theOptInCallTunesTheProcess() throws Exception {
    int cpus = Runtime.getRuntime().availableProcessors();
    String line = child("pin", "tune");
    if (cpus > 1) assertTrue(line.startsWith("torch=" + cpus + " kernels=" + cpus + " "), line);
  }
}
