package io.fitprune.kernels;

import io.fitprune.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.bytedeco.javacpp.Loader;

/**
 * The native library, loaded once, and whether that worked, reported the way Netty reports its
 * native transports: {@link #isAvailable()}, {@link #unavailabilityCause()} and
 * {@link #ensureAvailability()}. A failed load never surfaces as an
 * {@code ExceptionInInitializerError}: the typed API ({@link Kernels},
 * {@link BackendInfo}) throws one {@link FitPruneException} naming the cause at first use, and
 * the same one at every later use.
 *
 * <p>From a jar, the library is extracted into JavaCPP's cache directory
 * ({@code org.bytedeco.javacpp.cachedir}) under a folder named for the version and a hash of the
 * library's bytes, written to a temporary name and renamed into place, and never overwritten. Two
 * builds on one machine therefore never share a cache entry, and a process never loads a file
 * that another process is still writing (JavaCPP's own extraction names the folder after the jar
 * file and rewrites a cached file whose timestamp differs). From a class-path directory (tests)
 * the library is loaded in place.
 */
public final class NativeLibrary {
  /** The JNI library's base name, as JavaCPP names it for {@link FitPruneNative}. */
  static final String NAME = "jniFitPruneNative";

  private static final Throwable CAUSE = load();

  private NativeLibrary() {}

  /** True when the native library is loaded. Never throws. */
  public static boolean isAvailable() {
    return CAUSE == null;
  }

  /** Why the native library could not be loaded, or null when it is available. */
  public static Throwable unavailabilityCause() {
    return CAUSE;
  }

  /** Throws a {@link FitPruneException} that names the cause when the native library is not loaded. */
  public static void ensureAvailability() {
    if (CAUSE != null)
      throw new FitPruneException(FitPruneNative.FP_ERR_UNAVAILABLE,
          "the fitprune native library could not be loaded for platform " + platform() + ": " + CAUSE, CAUSE);
  }

  private static String platform() {
    try {
      return Loader.getPlatform();
    } catch (Throwable t) {
      return System.getProperty("os.name") + "-" + System.getProperty("os.arch");
    }
  }

  private static Throwable load() {
    try {
      String file = System.mapLibraryName(NAME);
      URL url = NativeLibrary.class.getResource(platform() + "/" + file);
      if (url == null) {
        System.loadLibrary(NAME); // not bundled for this platform: java.library.path
      } else if ("file".equals(url.getProtocol())) {
        System.load(Path.of(url.toURI()).toString());
      } else {
        System.load(extract(url, file).toString());
      }
      return null;
    } catch (Throwable t) { // UnsatisfiedLinkError, IOException, SecurityException, ...
      return t;
    }
  }

  /** The cached copy of {@code url}: {@code <cachedir>/fitprune-<version>-<sha256 prefix>/<file>}. */
  static Path extract(URL url, String file) throws IOException, NoSuchAlgorithmException {
    byte[] bytes;
    try (InputStream in = url.openStream()) {
      bytes = in.readAllBytes();
    }
    String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8);
    String version = NativeLibrary.class.getPackage().getImplementationVersion();
    Path dir = Loader.getCacheDir().toPath().resolve("fitprune-" + (version == null ? "" : version + "-") + hash);
    Path target = dir.resolve(file);
    if (Files.isRegularFile(target) && Files.size(target) == bytes.length) return target; // same name, same bytes
    AtomicFiles.write(target, bytes); // another JVM loading the same library sees the old file or the whole new one
    return target;
  }

  /** For {@link FitPruneNative}'s initializer: the load has been attempted once this returns. */
  static void attempted() {}
}
