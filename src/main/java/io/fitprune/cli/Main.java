package io.fitprune.cli;

public final class Main {
  public static void main(String[] args) {
    System.out.println(io.fitprune.kernels.FitPruneNative.fp_version() + " " + io.fitprune.kernels.FitPruneNative.fp_cpu_features() + " | " + io.fitprune.kernels.FitPruneNative.fp_cuda_describe());
  }
}
