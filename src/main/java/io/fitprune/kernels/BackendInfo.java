package io.fitprune.kernels;

import java.util.List;

/** What this machine's native library can do: versions, CPU paths, and CUDA's status. */
public record BackendInfo(String nativeVersion, Isa cpuIsa, List<Isa> cpuIsas, String cpuFeatures,
    int cpuThreads, boolean cudaCompiled, int cudaDevices, String cudaStatus) {

  /**
   * Queries the native library (loading it on first use). Never fails for a missing GPU; with
   * {@code -Dfitprune.cuda.disable=true} it does not touch the CUDA driver and reports no device.
   * Throws a {@link FitPruneException} naming the cause when the native library cannot load.
   */
  public static BackendInfo query() {
    NativeLibrary.ensureAvailability();
    boolean disabled = CudaBackend.disabled();
    int devices = disabled ? 0 : FitPruneNative.fp_cuda_device_count();
    String status = disabled ? "disabled by -D" + Kernels.CUDA_DISABLE_PROPERTY + "=true" : FitPruneNative.fp_cuda_describe();
    return new BackendInfo(FitPruneNative.fp_version(), Kernels.isa(), Kernels.supportedIsas(),
        FitPruneNative.fp_cpu_features(), Kernels.threads(), FitPruneNative.fp_cuda_compiled() == 1,
        Math.max(devices, 0), status);
  }

  public boolean cudaAvailable() {
    return cudaDevices > 0;
  }
}
