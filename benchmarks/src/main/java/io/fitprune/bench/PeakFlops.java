package io.fitprune.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The machine's arithmetic limits, measured in the benchmark's own run by
 * {@code benchmarks/native/peak_flops.cpp} (built here with g++; run from the repository root, as
 * {@code benchmarks/run} does): fp32 FMA and bf16 {@code vdpbf16ps} GFLOP/s on one thread and on
 * all. NaN where the harness cannot be built or run (no g++, no AVX-512 BF16).
 */
record PeakFlops(double fp32One, double fp32All, double bf16One, double bf16All, int threads, String note) {
  static final Path SOURCE = Path.of("benchmarks/native/peak_flops.cpp");
  private static final Pattern LINE = Pattern.compile("([0-9.]+) GFLOP/s on 1 thread, ([0-9.]+) on (\\d+) threads");

  static PeakFlops measure() {
    double nan = Double.NaN;
    try {
      if (!Files.isRegularFile(SOURCE)) return new PeakFlops(nan, nan, nan, nan, 0, SOURCE + " not found (run from the repository root)");
      Path dir = Files.createTempDirectory("peak_flops"), exe = dir.resolve("peak_flops");
      String built = run(600, "g++", "-O2", "-mavx512f", "-mavx512bf16", "-pthread", SOURCE.toString(), "-o", exe.toString());
      if (!Files.isExecutable(exe)) return new PeakFlops(nan, nan, nan, nan, 0, "could not build: " + built.strip());
      String out = run(600, exe.toString());
      Files.deleteIfExists(exe);
      Files.deleteIfExists(dir);
      Matcher m = LINE.matcher(out);
      double[] v = new double[4];
      int threads = 0;
      for (int i = 0; i < 2; i++) {
        if (!m.find()) return new PeakFlops(nan, nan, nan, nan, 0, "unexpected output: " + out.strip());
        v[2 * i] = Double.parseDouble(m.group(1));
        v[2 * i + 1] = Double.parseDouble(m.group(2));
        threads = Integer.parseInt(m.group(3));
      }
      return new PeakFlops(v[0], v[1], v[2], v[3], threads, out.strip().replace('\n', ';'));
    } catch (IOException | InterruptedException e) {
      return new PeakFlops(nan, nan, nan, nan, 0, "not measured: " + e);
    }
  }

  private static String run(int seconds, String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) p.destroyForcibly();
    return out;
  }
}
