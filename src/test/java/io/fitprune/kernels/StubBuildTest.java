package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The CPU-only build (no nvcc) links src/main/native/cuda_stub.cpp instead of src/main/cuda: every
 * CUDA entry point of the C API must have a stub, and the stub must compile.
 */
class StubBuildTest {

  private static Set<String> cudaFunctions(String source, Pattern p) {
    Set<String> names = new TreeSet<>();
    Matcher m = p.matcher(source);
    while (m.find()) names.add(m.group(1));
    return names;
  }

  @Test
  void everyCudaEntryPointHasAStubThatCompiles() throws Exception {
    Path root = Path.of("").toAbsolutePath();
    String header = Files.readString(root.resolve("src/main/cpp/fitprune.h"));
    String stub = Files.readString(root.resolve("src/main/native/cuda_stub.cpp"));
    Pattern decl = Pattern.compile("\\b(fp_cuda_\\w+)\\s*\\(");
    Set<String> declared = cudaFunctions(header, decl), stubbed = cudaFunctions(stub, decl);
    assertTrue(declared.size() >= 15, "found " + declared);
    assertTrue(stubbed.containsAll(declared), "missing stubs: " + minus(declared, stubbed));

    boolean gpp;
    try {
      gpp = new ProcessBuilder("g++", "--version").start().waitFor(30, TimeUnit.SECONDS);
    } catch (java.io.IOException e) {
      gpp = false;
    }
    if (!gpp) System.out.println("stub compile skipped: no g++");
    assumeTrue(gpp, "no g++");
    Process p = new ProcessBuilder("g++", "-std=c++17", "-Wall", "-Werror", "-Wno-unused-parameter", "-fsyntax-only",
        "-I" + root.resolve("src/main/cpp"), root.resolve("src/main/native/cuda_stub.cpp").toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "g++ timed out");
    assertEquals(0, p.exitValue(), out);
  }

  private static Set<String> minus(Set<String> a, Set<String> b) {
    Set<String> r = new TreeSet<>(a);
    r.removeAll(b);
    return r;
  }
}
