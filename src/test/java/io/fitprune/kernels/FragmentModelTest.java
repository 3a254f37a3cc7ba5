package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs benchmarks/gpu/fragment_model.cpp (a host model of the tensor-core kernels' shared-memory
 * swizzle, ldmatrix addressing and mma fragment layouts) so CI, which has no GPU, still checks the
 * indexing of src/main/cuda/attention_mma.cuh; and checks that the kernel uses the same address
 * expressions as the model.
 */
class FragmentModelTest {
  @TempDir Path dir;

  @Test
  void kernelIndexingMatchesTheFragmentModel() throws Exception {
    Path root = Path.of("").toAbsolutePath();
    String kernel = Files.readString(root.resolve("src/main/cuda/attention_mma.cuh"));
    String model = Files.readString(root.resolve("benchmarks/gpu/fragment_model.cpp"));
    for (String expr : new String[] {
        "swz<D>(warp * 16 + (lane & 15), kc * 16 + (lane >> 4) * 8)",
        "swz<D>(np * 16 + (lane >> 4) * 8 + (lane & 7), kc * 16 + ((lane >> 3) & 1) * 8)",
        "swz<D>(kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dp * 16 + (lane >> 4) * 8)"}) {
      assertTrue(kernel.contains(expr) && model.contains(expr), "kernel and model disagree on " + expr);
    }
    boolean gpp;
    try {
      gpp = new ProcessBuilder("g++", "--version").start().waitFor(30, TimeUnit.SECONDS);
    } catch (java.io.IOException e) {
      gpp = false;
    }
    if (!gpp) System.out.println("fragment model skipped: no g++");
    assumeTrue(gpp, "no g++");
    Path exe = dir.resolve("fragment_model");
    Process c = new ProcessBuilder("g++", "-O1", "-std=c++17", root.resolve("benchmarks/gpu/fragment_model.cpp").toString(),
        "-o", exe.toString()).redirectErrorStream(true).start();
    String cout = new String(c.getInputStream().readAllBytes());
    assertTrue(c.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, c.exitValue(), cout);
    Process r = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
    String out = new String(r.getInputStream().readAllBytes());
    assertTrue(r.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, r.exitValue(), out);
    assertTrue(out.contains("ok"), out);
  }
}
