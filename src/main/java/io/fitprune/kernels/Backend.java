package io.fitprune.kernels;

import java.util.Locale;

/** Where the kernels run. {@link #AUTO} picks CUDA when a device is present, else the CPU. */
public enum Backend {
  AUTO, CPU, CUDA;

  /** CPU or CUDA: AUTO resolved against this machine. Does not check that CUDA is usable. */
  public Backend resolve() {
    if (this != AUTO) return this;
    return CudaBackend.unavailabilityCause() == null ? CUDA : CPU;
  }

  /** Parses "auto", "cpu", "cuda" (case-insensitive). */
  public static Backend parse(String name) {
    if (name != null) {
      for (Backend b : values()) if (b.name().equalsIgnoreCase(name.trim())) return b;
    }
    throw new IllegalArgumentException("backend must be one of auto, cpu, cuda; got " + name);
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
