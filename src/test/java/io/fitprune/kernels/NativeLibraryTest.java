package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.NativeLibraryProbe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading the native library: availability is reported, not thrown; a broken library is one
 * clear exception at first use; CUDA can be disabled; and builds never share a cache entry.
 * Situations a loaded JVM cannot undo run in child JVMs ({@link NativeLibraryProbe}).
 */
class NativeLibraryTest {
  private static final Path CLASSES = Path.of("target/classes").toAbsolutePath();
  private static final String SO = Loader.getPlatform() + "/" + System.mapLibraryName(NativeLibrary.NAME);
  private static final Path LIBRARY = CLASSES.resolve("io/fitprune/kernels").resolve(SO);

  @Test
  void availableHere() {
    assertTrue(NativeLibrary.isAvailable(), () -> "cause: " + NativeLibrary.unavailabilityCause());
    assertNull(NativeLibrary.unavailabilityCause());
    NativeLibrary.ensureAvailability();
    assertEquals(Kernels.cudaAvailable(), Kernels.cudaUnavailabilityCause() == null);
  }

  @Test
  void brokenLibraryIsOneClearExceptionAtFirstUse(@TempDir Path tmp) throws Exception {
    Path classes = tmp.resolve("classes");
    copyTree(CLASSES, classes);
    Files.writeString(classes.resolve("io/fitprune/kernels").resolve(SO), "not a shared object");
    probe(List.of(classes.toString()), List.of(), "broken");
  }

  @Test
  void cudaCanBeDisabled() throws Exception {
    probe(List.of(CLASSES.toString()), List.of("-D" + Kernels.CUDA_DISABLE_PROPERTY + "=true"), "cuda-disabled");
    String old = System.getProperty(Kernels.CUDA_DISABLE_PROPERTY);
    System.setProperty(Kernels.CUDA_DISABLE_PROPERTY, "true");
    try {
      BackendInfo i = BackendInfo.query();
      assertEquals(0, i.cudaDevices());
      assertTrue(i.cudaStatus().contains("disabled"), i.cudaStatus());
    } finally {
      if (old == null) System.clearProperty(Kernels.CUDA_DISABLE_PROPERTY);
      else System.setProperty(Kernels.CUDA_DISABLE_PROPERTY, old);
    }
  }

  /**
   * Two jars of the same file name whose libraries differ (two builds), loaded at once with one
   * JavaCPP cache directory: each gets its own cache folder named for version and content, and a
   * second load of the same jar reuses its file without rewriting it.
   */
  @Test
  void buildsNeverShareACacheEntry(@TempDir Path tmp) throws Exception {
    byte[] library = Files.readAllBytes(LIBRARY);
    byte[] other = new byte[library.length + 16]; // trailing bytes after an ELF image are ignored by the loader
    System.arraycopy(library, 0, other, 0, library.length);
    Path a = jar(tmp.resolve("a/fitprune.jar"), library), b = jar(tmp.resolve("b/fitprune.jar"), other);
    Path cache = tmp.resolve("cache");
    List<String> props = List.of("-Dorg.bytedeco.javacpp.cachedir=" + cache);
    Process pa = start(List.of(a.toString()), props, "load"), pb = start(List.of(b.toString()), props, "load");
    finish(pa);
    finish(pb);

    List<Path> entries;
    try (Stream<Path> s = Files.list(cache)) {
      entries = s.filter(p -> p.getFileName().toString().startsWith("fitprune-")).sorted().toList();
    }
    assertEquals(2, entries.size(), "cache folders: " + entries);
    List<byte[]> contents = new ArrayList<>();
    for (Path e : entries) {
      assertTrue(e.getFileName().toString().startsWith("fitprune-test-7-"), e.toString());
      contents.add(Files.readAllBytes(e.resolve(System.mapLibraryName(NativeLibrary.NAME))));
    }
    assertNotEquals(contents.get(0).length, contents.get(1).length);
    for (byte[] c : contents) assertTrue(c.length == library.length || c.length == other.length);

    Path fileA = entries.stream().map(e -> e.resolve(System.mapLibraryName(NativeLibrary.NAME)))
        .filter(p -> p.toFile().length() == library.length).findFirst().orElseThrow();
    assertArrayEquals(library, Files.readAllBytes(fileA));
    long modified = Files.getLastModifiedTime(fileA).toMillis();
    Thread.sleep(20);
    finish(start(List.of(a.toString()), props, "load"));
    assertEquals(modified, Files.getLastModifiedTime(fileA).toMillis(), "the cached library was rewritten");
  }

  // ---- child JVMs ----

  private static void probe(List<String> first, List<String> jvmArgs, String mode) throws Exception {
    finish(start(first, jvmArgs, mode));
  }

  /** A JVM running {@link NativeLibraryProbe} with {@code first} ahead of the test class path minus target/classes. */
  private static Process start(List<String> first, List<String> jvmArgs, String mode) throws IOException {
    List<String> cp = new ArrayList<>(first);
    for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
      if (!Path.of(e).toAbsolutePath().equals(CLASSES)) cp.add(e);
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(String.join(java.io.File.pathSeparator, cp));
    cmd.add(NativeLibraryProbe.class.getName());
    cmd.add(mode);
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
  }

  private static void finish(Process p) throws Exception {
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM timed out");
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("probe ok"), out);
  }

  /** A jar of target/classes with {@code library} as the native library and Implementation-Version test-7. */
  private static Path jar(Path file, byte[] library) throws IOException {
    Files.createDirectories(file.getParent());
    Manifest m = new Manifest();
    m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    m.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_VERSION, "test-7");
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(file), m); Stream<Path> s = Files.walk(CLASSES)) {
      for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
        String name = CLASSES.relativize(p).toString().replace('\\', '/');
        out.putNextEntry(new JarEntry(name));
        out.write(p.equals(LIBRARY) ? library : Files.readAllBytes(p));
        out.closeEntry();
      }
    }
    return file;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(t);
        else Files.copy(p, t);
      }
    }
  }

}
