package io.fitprune.testutil;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Backend;
import io.fitprune.kernels.BackendInfo;
import io.fitprune.kernels.DeviceBuffer;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.FitPruneException;
import io.fitprune.kernels.FitPruneNative;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.NativeLibrary;
import java.util.Random;

/**
 * Run in a child JVM by {@code io.fitprune.kernels.NativeLibraryTest}: checks what a process sees in one situation
 * (argument: broken, cuda-disabled, load) and prints "probe ok" or throws.
 */
public final class NativeLibraryProbe {
  // Outside the kernels package, so that package is defined by the jar under test (its version).
  public static void main(String[] args) {
    AttentionShape shape = new AttentionShape(5, 2, 1, 64);
    Random rnd = new Random(3);
    float[] q = random(rnd, shape.qLength()), k = random(rnd, shape.kvLength()), v = random(rnd, shape.kvLength());
    switch (args[0]) {
      case "broken" -> {
        require(!NativeLibrary.isAvailable(), "the library loaded from a broken file");
        Throwable cause = NativeLibrary.unavailabilityCause();
        require(cause instanceof UnsatisfiedLinkError, "cause: " + cause);
        for (int attempt = 0; attempt < 2; attempt++) { // the same clear exception every time, never a class-init error
          FitPruneException e = expect(() -> Kernels.attention(shape, q, k, v));
          require(e.getCause() == cause, "cause not attached: " + e);
          require(e.getMessage().contains("could not be loaded") && e.getMessage().contains(cause.getMessage()),
              "message: " + e.getMessage());
          require(e.status() == FitPruneNative.FP_ERR_UNAVAILABLE, "status " + e.status());
        }
        expect(Kernels::isa);
        expect(BackendInfo::query);
        require(!Kernels.cudaAvailable(), "CUDA available without the library");
        require(Kernels.cudaUnavailabilityCause() == cause, "CUDA's cause: " + Kernels.cudaUnavailabilityCause());
        require(Backend.AUTO.resolve() == Backend.CPU, "AUTO did not fall back to the CPU");
        expect(() -> DeviceBuffer.allocate(ElementType.FP32, 4));
        try {
          FitPruneNative.fp_version(); // the raw binding: an UnsatisfiedLinkError, not ExceptionInInitializerError
          throw new AssertionError("fp_version ran without a library");
        } catch (UnsatisfiedLinkError expected) {
          // the binding's documented behaviour
        }
      }
      case "cuda-disabled" -> {
        require(NativeLibrary.isAvailable(), "library: " + NativeLibrary.unavailabilityCause());
        require(!Kernels.cudaAvailable(), "CUDA available although disabled");
        Throwable cause = Kernels.cudaUnavailabilityCause();
        require(cause instanceof FitPruneException && cause.getMessage().contains("disabled by -Dfitprune.cuda.disable=true"),
            "cause: " + cause);
        require(Backend.AUTO.resolve() == Backend.CPU, "AUTO did not resolve to the CPU");
        FitPruneException e = expect(() -> Kernels.attention(Backend.CUDA, ElementType.FP16, shape, q, k, v));
        require(e.getMessage().contains("disabled"), e.getMessage());
        require(Kernels.attention(shape, q, k, v).out().length == q.length, "CPU attention");
      }
      case "load" -> {
        require(NativeLibrary.isAvailable(), "library: " + NativeLibrary.unavailabilityCause());
        require(Kernels.attention(shape, q, k, v).lse().length == shape.lseLength(), "CPU attention");
      }
      default -> throw new IllegalArgumentException(args[0]);
    }
    System.out.println("probe ok");
  }

  private static FitPruneException expect(Runnable r) {
    try {
      r.run();
    } catch (FitPruneException e) {
      return e;
    }
    throw new AssertionError("no FitPruneException");
  }

  private static void require(boolean ok, String message) {
    if (!ok) throw new AssertionError(message);
  }

  private static float[] random(Random rnd, long n) {
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    return a;
  }
}
