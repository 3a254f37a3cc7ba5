package io.fitprune.kernels;

import static io.fitprune.kernels.Kernels.check;
import static io.fitprune.kernels.Kernels.require;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/** The checks and the native call of {@link Kernels#linear}; rows past the native limit go in groups. */
final class LinearKernel {
  private LinearKernel() {}

  /** Rows of one native call (fp_cpu_linear's limit). */
  static final int MAX_ROWS = 4096;
  /** Matrices of one call. */
  static final int MAX_MATRICES = 8;

  static final int ACCUMULATE = FitPruneNative.FP_LINEAR_ACCUMULATE, SWIGLU = FitPruneNative.FP_LINEAR_SWIGLU;

  static void linear(Data x, long rows, Weight[] w, Data[] y, int flags) {
    boolean accumulate = (flags & ACCUMULATE) != 0;
    require(x, "x");
    CpuOps.requireFp32(x, "x");
    requireHost(x, "x");
    require(w, "w");
    require(y, "y");
    if (w.length < 1 || w.length > MAX_MATRICES)
      throw new IllegalArgumentException("w: expected 1 to " + MAX_MATRICES + " weight matrices, got " + w.length);
    if (y.length != w.length)
      throw new IllegalArgumentException("y: expected one output per weight matrix (" + w.length + "), got " + y.length);
    if (rows < 0) throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    for (int i = 0; i < w.length; i++) require(w[i], "w[" + i + "]");
    long in = w[0].inFeatures();
    for (int i = 1; i < w.length; i++)
      if (w[i].inFeatures() != in)
        throw new IllegalArgumentException("w[" + i + "] " + w[i] + ": expected " + in + " input features like " + w[0]);
    x.requireShape("x", "[rows,in]", rows, in);
    for (int i = 0; i < w.length; i++) {
      String name = "y[" + i + "] (" + w[i].name() + ")";
      requireHost(CpuOps.requireFp32(y[i], name), name);
      y[i].requireShape(name, "[rows,out]", rows, w[i].outFeatures());
      y[i].requireWritable(name);
    }
    if ((flags & SWIGLU) != 0 && (w.length != 2 || w[0].outFeatures() != w[1].outFeatures()))
      throw new IllegalArgumentException("swiglu: expected gate and up weights of equal rows, got " + java.util.Arrays.toString(w));
    if (rows == 0) return;
    int count = w.length;
    long[] wp = new long[count], n = new long[count], yp = new long[count];
    int[] dt = new int[count];
    for (int i = 0; i < count; i++) {
      n[i] = w[i].outFeatures();
      dt[i] = w[i].type().code;
      wp[i] = w[i].address();
    }
    List<HostData.Access> opened = new ArrayList<>();
    try (var xa = HostData.access(x, true, false)) {
      long xAddr = xa.address();
      for (int i = 0; i < count; i++) {
        HostData.Access a = HostData.access(y[i], accumulate, true);
        opened.add(a);
        yp[i] = a.address();
        if (overlaps(xAddr, rows * in, yp[i], rows * n[i]))
          throw new IllegalArgumentException("y[" + i + "] (" + w[i].name() + ") overlaps x");
        for (int j = 0; j < i; j++)
          if (overlaps(yp[j], rows * n[j], yp[i], rows * n[i]))
            throw new IllegalArgumentException("y[" + i + "] (" + w[i].name() + ") overlaps y[" + j + "]");
      }
      for (long r0 = 0; r0 < rows; r0 += MAX_ROWS) {
        long r = Math.min(MAX_ROWS, rows - r0);
        long[] ys = new long[count];
        for (int i = 0; i < count; i++) ys[i] = yp[i] + r0 * n[i] * Float.BYTES;
        FloatPointer xr = new FloatPointer(xa.ptr).position(xa.ptr.position() + r0 * in);
        check(FitPruneNative.fp_cpu_linear(xr, r, in, count, wp, dt, n, ys, flags));
      }
    } finally {
      for (HostData.Access a : opened) a.close();
      for (Weight wi : w) wi.keepAlive();
    }
  }

  private static void requireHost(Data d, String name) {
    if (d.onDevice()) throw new IllegalArgumentException(name + ": lives on the device, but linear runs on the CPU only; pass host memory");
  }

  private static boolean overlaps(long a, long aFloats, long b, long bFloats) {
    return a < b + bFloats * Float.BYTES && b < a + aFloats * Float.BYTES;
  }

  /** GB/s of one pass over every weight matrix in turn (each split over the workers), as a decode step reads them. */
  static double readStream(Weight[] weights, int threads) {
    require(weights, "weights");
    NativeLibrary.ensureAvailability();
    long bytes = 0, t = 0;
    try {
      for (int i = 0; i < weights.length; i++) {
        Weight w = require(weights[i], "weights[" + i + "]");
        t += timedRead(new At(w.address(), w.bytes()), w.bytes(), threads);
        bytes += w.bytes();
      }
    } finally {
      for (Weight w : weights) if (w != null) w.keepAlive();
    }
    return bytes / Math.max(1.0, t);
  }

  /** An untyped pointer at a native address that a {@link Weight} keeps alive. */
  private static final class At extends Pointer {
    At(long address, long bytes) {
      this.address = address;
      this.capacity = bytes;
      this.limit = bytes;
    }
  }

  /** GB/s of one pass over {@code bytes} of {@code buffer} with {@code threads} workers (<= 0: all). */
  static double readStream(Pointer buffer, long bytes, int threads) {
    require(buffer, "buffer");
    if (bytes < 0) throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
    long have = buffer.limit() > 0 ? buffer.limit() : buffer.capacity();
    if (have > 0 && (have - buffer.position()) * buffer.sizeof() < bytes)
      throw new IllegalArgumentException("buffer: holds fewer than " + bytes + " bytes");
    NativeLibrary.ensureAvailability();
    // an untyped pointer is offset by its position in bytes: give it one at the first byte
    long t = timedRead(new Pointer(buffer).position(buffer.position() * buffer.sizeof()), bytes, threads);
    Reference.reachabilityFence(buffer);
    return bytes / Math.max(1.0, t);
  }

  /** Nanoseconds of one fp_cpu_read_stream pass over {@code bytes} from {@code at}. */
  private static long timedRead(Pointer at, long bytes, int threads) {
    long[] sum = new long[1];
    long t0 = System.nanoTime();
    check(FitPruneNative.fp_cpu_read_stream(at, bytes, threads, sum));
    return System.nanoTime() - t0;
  }
}
