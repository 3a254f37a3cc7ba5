package io.fitprune.kernels;

/** Whether the CUDA backend can run here, and why not: queried once, cached. */
final class CudaBackend {
  private CudaBackend() {}

  private static volatile BackendInfo info;

  static boolean disabled() {
    return Boolean.parseBoolean(System.getProperty(Kernels.CUDA_DISABLE_PROPERTY, "false").trim());
  }

  static Throwable unavailabilityCause() {
    if (!NativeLibrary.isAvailable()) return NativeLibrary.unavailabilityCause();
    BackendInfo i = info();
    return i.cudaAvailable() ? null
        : new FitPruneException(FitPruneNative.FP_ERR_UNAVAILABLE, "CUDA backend unavailable: " + i.cudaStatus());
  }

  static BackendInfo info() {
    BackendInfo i = info;
    if (i == null) info = i = BackendInfo.query();
    return i;
  }

  /** Throws a one-line {@link FitPruneException} when there is no usable CUDA device. */
  static void requireDevice() {
    NativeLibrary.ensureAvailability();
    Throwable cause = unavailabilityCause();
    if (cause != null) throw (FitPruneException) cause;
  }
}
