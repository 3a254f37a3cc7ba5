package io.fitprune.kernels;

import static io.fitprune.kernels.ValidationTest.rejects;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * The one handle and where a call runs: host handles of every origin read the same values, and a
 * call whose arguments do not all live in one place, or that passes a stream with host data, is
 * refused in Java naming the argument. Device handles here are wrapped addresses (no device is
 * touched: the checks come first).
 */
class DataPlacementTest {
  static final AttentionShape SHAPE = new AttentionShape(9, 4, 2, 64);
  static final long FAKE = 1L << 20; // an aligned address never dereferenced

  static DeviceBuffer device(ElementType t, long n) {
    return DeviceBuffer.wrap(FAKE, t, n);
  }

  @Test
  void everyHostOriginReadsTheSameValues() {
    Random rnd = new Random(17);
    float[] a = Reference.gaussian(rnd, 13);
    FloatBuffer direct = ByteBuffer.allocateDirect(4 * 13).order(ByteOrder.nativeOrder()).asFloatBuffer();
    direct.put(a).flip();
    try (FloatPointer p = new FloatPointer(a); Data owned = Data.allocate(ElementType.FP32, 13)) {
      owned.copyFrom(a);
      for (Data d : new Data[] {Data.of(a), Data.of(direct), Data.of(p), Data.of(p, 13), owned}) {
        assertEquals(ElementType.FP32, d.type());
        assertFalse(d.onDevice());
        assertEquals(13, d.length());
        assertArrayEquals(a, d.toFloats(), d.toString());
      }
      assertArrayEquals(java.util.Arrays.copyOf(a, 5), Data.of(a).view(5).toFloats());
      assertArrayEquals(java.util.Arrays.copyOf(a, 5), owned.view(5).toFloats());
    }
  }

  @Test
  void bf16RoundsToNearestEvenAndWidensExactly() {
    Random rnd = new Random(3);
    float[] a = Reference.gaussian(rnd, 31);
    a[0] = Float.NaN;
    Data b = Data.roundBf16(a);
    assertEquals(ElementType.BF16, b.type());
    short[] bits = b.toShorts();
    float[] wide = b.toFloats();
    assertTrue(Float.isNaN(wide[0]));
    for (int i = 1; i < a.length; i++) {
      // independent rounding: the nearer of the two bf16 neighbours, ties to the even one
      int x = Float.floatToRawIntBits(a[i]);
      float lo = Float.intBitsToFloat(x & 0xffff0000), hi = Float.intBitsToFloat((x & 0xffff0000) + 0x10000);
      double dl = Math.abs((double) a[i] - lo), dh = Math.abs((double) hi - a[i]);
      float want = dl < dh ? lo : dh < dl ? hi : ((Float.floatToRawIntBits(lo) >>> 16) & 1) == 0 ? lo : hi;
      assertEquals(want, wide[i], "element " + i);
      assertEquals(Bf16.toFloat(bits[i]), wide[i]);
    }
  }

  @Test
  void wrongTypeUsesAreRefused() {
    rejects(IllegalArgumentException.class, "use toInts()", () -> Data.of(new int[3]).toFloats());
    rejects(IllegalArgumentException.class, "holds float32", () -> Data.of(new float[3]).toInts());
    rejects(IllegalArgumentException.class, "copyFrom: 2 values for a handle of 3", () -> Data.of(new float[3]).copyFrom(new float[2]));
    rejects(IllegalArgumentException.class, "not int32", () -> Data.of(new float[3]).copyFrom(new int[3]));
    rejects(IllegalArgumentException.class, "length must be in [0, 3]", () -> Data.of(new float[3]).view(4));
    rejects(IllegalArgumentException.class, "keep: expected int32, got float32",
        () -> Kernels.selectKeep(4, new Spans(1, 2), Data.of(new float[2]), Data.of(new float[2]), 1, Data.of(new float[3])));
    rejects(IllegalArgumentException.class, "lse: expected float32, got bfloat16", () -> Kernels.attention(SHAPE,
        Data.of(new float[(int) SHAPE.qLength()]), Data.of(new float[(int) SHAPE.kvLength()]),
        Data.of(new float[(int) SHAPE.kvLength()]), Data.of(new float[(int) SHAPE.qLength()]),
        Data.bf16(new short[(int) SHAPE.lseLength()])));
  }

  @Test
  void aMixOfHostAndDeviceIsRefusedNamingTheArgument() {
    Data q = Data.of(new float[(int) SHAPE.qLength()]), kv = Data.of(new float[(int) SHAPE.kvLength()]);
    Data out = Data.of(new float[(int) SHAPE.qLength()]), lse = Data.of(new float[(int) SHAPE.lseLength()]);
    DeviceBuffer dk = device(ElementType.FP32, SHAPE.kvLength());
    rejects(IllegalArgumentException.class, "k: lives on the device but q in host memory",
        () -> Kernels.attention(SHAPE, q, dk, kv, out, lse));
    rejects(IllegalArgumentException.class, "lse: lives in host memory but q on the device",
        () -> Kernels.attention(SHAPE, device(ElementType.FP16, SHAPE.qLength()), dk, dk, dk, lse));
    rejects(IllegalArgumentException.class, "cross: lives on the device",
        () -> Kernels.selectKeep(9, new Spans(1, 3), Data.of(new float[3]), device(ElementType.FP32, 3), 1,
            Data.of(new int[8])));
    rejects(IllegalArgumentException.class, "index: lives on the device",
        () -> Kernels.gatherRows(Data.of(new float[8]), 4, 2, device(ElementType.INT32, 2), Data.of(new float[4])));
    BatchShape one = new BatchShape(Batch.ofLengths(1), 4, 2, 64);
    rejects(IllegalArgumentException.class, "kCaches[0]: lives on the device but q in host memory",
        () -> Kernels.decodeAttention(one, Data.of(new float[256]), new Data[] {device(ElementType.FP32, 128)},
            new Data[] {Data.of(new float[128])}, new long[] {1}, Data.of(new float[256]), null));
  }

  @Test
  void aStreamGoesWithDeviceDataAndCpuOnlyCallsWithHostData() {
    Data q = Data.of(new float[(int) SHAPE.qLength()]), kv = Data.of(new float[(int) SHAPE.kvLength()]);
    Data out = Data.of(new float[(int) SHAPE.qLength()]), lse = Data.of(new float[(int) SHAPE.lseLength()]);
    rejects(IllegalArgumentException.class, "stream: the arguments live in host memory",
        () -> Kernels.attention(SHAPE, q, kv, kv, out, lse, CudaStream.DEFAULT));
    rejects(IllegalArgumentException.class, "stream: the arguments live in host memory",
        () -> Kernels.gatherRows(Data.of(new float[8]), 4, 2, Data.of(new int[2]), Data.of(new float[4]),
            null, CudaStream.DEFAULT));
    DeviceBuffer d = device(ElementType.FP16, SHAPE.qLength());
    rejects(IllegalArgumentException.class, "runs on the CPU only",
        () -> Kernels.attentionScores(SHAPE, new Spans(1, 3), d, d, d, d, d, d, d));
    rejects(IllegalArgumentException.class, "runs on the CPU only",
        () -> Kernels.requireFinite("x", "[n]", device(ElementType.FP32, 4), 4));
    Weight w = Weight.of("w", new FloatPointer(new float[4]), ElementType.FP32, 2, 2);
    rejects(IllegalArgumentException.class, "x: lives on the device, but linear runs on the CPU only",
        () -> Kernels.linear(device(ElementType.FP32, 2), 1, w, Data.of(new float[2])));
  }

  @Test
  void theBackendArrayFormsMatchTheHandleForms() {
    Random rnd = new Random(5);
    BatchShape shape = new BatchShape(Batch.ofLengths(7, 1, 12), 4, 2, 16);
    AttentionShape all = shape.packed();
    float[] q = Reference.gaussian(rnd, all.qLength()), k = Reference.gaussian(rnd, all.kvLength()),
        v = Reference.gaussian(rnd, all.kvLength());
    Kernels.AttentionOutput a = Kernels.attention(Backend.CPU, ElementType.BF16, shape, q, k, v);
    Data out = Data.of(new float[(int) all.qLength()]), lse = Data.of(new float[(int) all.lseLength()]);
    Kernels.attention(shape, Data.roundBf16(q), Data.roundBf16(k), Data.roundBf16(v), out, lse);
    assertArrayEquals(out.toFloats(), a.out());
    assertArrayEquals(lse.toFloats(), a.lse());
  }
}
