package io.fitprune.kernels;

import org.bytedeco.javacpp.Pointer;

/** A JavaCPP pointer to an address the caller owns (device memory, a stream handle): never freed here. */
final class RawPointer extends Pointer {
  RawPointer(long address) {
    this.address = address;
  }
}
