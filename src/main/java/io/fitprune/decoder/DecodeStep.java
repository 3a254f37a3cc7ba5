package io.fitprune.decoder;

import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.TorchData;
import io.fitprune.kernels.Weight;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A decode step of a few rows at memory speed. A step multiplies B rows by every weight of the
 * model once, about two FLOPs per weight byte, so it is bound by reading the weights: the dense
 * layers run on the native small-M kernel ({@link Kernels#linear}), which reads each weight matrix
 * once for all B rows, in its stored type, with q/k/v and gate/up each one pass. Everything else
 * in a step (RMSNorm, RoPE, bias, SwiGLU, the K/V cache append in the cache's type, the LM head's
 * argmax) works on per-thread buffers allocated once, in place: no tensor is created per token
 * per layer. The RMSNorms and the rounding of q and of the new K/V rows to bf16 are native calls
 * ({@link Kernels#rmsNorm}, {@link Kernels#roundBf16}): as Java loops over direct buffers they took
 * about 3.6 ms of a 7B token, and the first token waited for their compilation. The residual
 * stream, q, k, v and the MLP activations stay float32 between the dense layers (the libtorch path
 * rounds each dense output to bf16); q is rounded to the caches' type for the decode attention
 * kernel.
 */
final class DecodeStep {
  /**
   * Batch rows up to which decode steps run here; larger batches take libtorch's GEMMs, which are
   * compute-bound and closer to the arithmetic limit. GemvBench on a [11008, 4096] BF16 weight
   * (Zen 5, 2 cores): ours / libtorch 0.28 at 1 row, 0.40 at 8, 0.49 at 16, 0.74 at 32, 0.98 at 64,
   * 1.22 at 128 (with 8-row tiles: 0.84 at 32, 1.25 at 64). Between 32 and 64 rows the gain is
   * small and both paths are bound by arithmetic, so the boundary stays where libtorch's bf16
   * rounding of the dense outputs begins.
   */
  static final int MAX_ROWS = 32;

  private final DecoderConfig c;
  private final Rope rope;
  private final LayerWeights[] layers;
  private final Weight lmHead;
  private final Data finalNorm;
  private final ThreadLocal<Work> work = new ThreadLocal<>();

  /** One layer's weights as the kernel reads them, and its small vectors as float32. */
  private record LayerWeights(Weight[] qkv, Weight[] o, Weight gate, Weight up, Weight[] down, float[][] qkvBias,
      Data inputNorm, Data postNorm, boolean bf16Cache) {} // o and down: the array form accumulates

  DecodeStep(Decoder dec) {
    this.c = dec.config();
    this.rope = dec.rope();
    DecoderWeights w = dec.weights();
    layers = new LayerWeights[c.layers()];
    for (int l = 0; l < layers.length; l++) {
      DecoderWeights.Layer lw = w.layer(l);
      String p = "layer " + l + " ";
      layers[l] = new LayerWeights(
          new Weight[] {TorchData.weight(p + "q_proj", lw.q()), TorchData.weight(p + "k_proj", lw.k()),
              TorchData.weight(p + "v_proj", lw.v())},
          new Weight[] {TorchData.weight(p + "o_proj", lw.o())},
          TorchData.weight(p + "gate_proj", lw.gate()), TorchData.weight(p + "up_proj", lw.up()),
          new Weight[] {TorchData.weight(p + "down_proj", lw.down())},
          new float[][] {floats(lw.qBias()), floats(lw.kBias()), floats(lw.vBias())},
          direct(floats(lw.inputNorm())), direct(floats(lw.postNorm())),
          !Tensors.is(lw.q(), torch.ScalarType.Float)); // the caches' type follows q's, as in Decoder#attend
    }
    lmHead = TorchData.weight("lm_head", w.lmHead());
    finalNorm = direct(floats(w.finalNorm()));
  }

  /** Every weight matrix a step reads, in the order it reads them. */
  Weight[] weights() {
    List<Weight> all = new java.util.ArrayList<>();
    for (LayerWeights lw : layers)
      for (Weight[] ws : new Weight[][] {lw.qkv(), lw.o(), {lw.gate(), lw.up()}, lw.down()}) all.addAll(Arrays.asList(ws));
    all.add(lmHead);
    return all.toArray(new Weight[0]);
  }

  /**
   * Feeds row b of {@code x [B, D]} to state b at position {@code pos[b]} (already appended to its
   * sequence), through every layer's own cache; returns each greedy next token and final hidden state.
   */
  Decoder.Step[] run(List<DecoderState> states, Tensor x, int[] pos) {
    int B = states.size(), H = c.heads(), G = c.kvHeads(), d = c.headDim(), D = c.hidden();
    Work wk = work(B);
    try (Tensor xf = x.to(torch.ScalarType.Float).contiguous()) {
      wk.x.put(0, xf.data_ptr_float().capacity((long) B * D).asBuffer(), 0, B * D);
    }
    long[] ones = new long[B];
    Arrays.fill(ones, 1);
    BatchShape shape = new BatchShape(Batch.ofLengths(ones), H, G, d, c.softmaxScale());
    Data[] kc = new Data[B], vc = new Data[B];
    long[] kvLen = new long[B];
    for (int l = 0; l < layers.length; l++) {
      LayerWeights lw = layers[l];
      Kernels.rmsNorm(wk.xData, wk.hData, B, D, lw.inputNorm(), c.rmsEps());
      Kernels.linear(wk.hData, B, lw.qkv(), wk.qkvData, false);
      addBias(wk.q, lw.qkvBias()[0], B);
      addBias(wk.k, lw.qkvBias()[1], B);
      addBias(wk.v, lw.qkvBias()[2], B);
      rope.apply(wk.q, pos, H);
      rope.apply(wk.k, pos, G);
      for (int b = 0; b < B; b++) {
        DecoderState s = states.get(b);
        long len = s.seq.kvLength(l); // including the new token, at row len - 1
        append(s.kData[l], len - 1, wk.k, b, wk);
        append(s.vData[l], len - 1, wk.v, b, wk);
        kc[b] = s.kData[l];
        vc[b] = s.vData[l];
        kvLen[b] = len;
      }
      Data q = wk.qData;
      if (lw.bf16Cache()) {
        Kernels.roundBf16(wk.qData, wk.qBitsData);
        q = wk.qBitsData;
      }
      Kernels.decodeAttention(shape, q, kc, vc, kvLen, wk.oData, null);
      Kernels.linear(wk.oData, B, lw.o(), wk.residual, true);
      Kernels.rmsNorm(wk.xData, wk.hData, B, D, lw.postNorm(), c.rmsEps());
      Kernels.linearSwiglu(wk.hData, B, lw.gate(), lw.up(), wk.gateData, wk.upData);
      Kernels.linear(wk.gateData, B, lw.down(), wk.residual, true);
    }
    Kernels.rmsNorm(wk.xData, wk.hData, B, D, finalNorm, c.rmsEps());
    Kernels.linear(wk.hData, B, lmHead, wk.logitsData);
    Decoder.Step[] out = new Decoder.Step[B];
    for (int b = 0; b < B; b++) {
      float[] hidden = new float[D], logits = new float[c.vocab()];
      wk.h.get(b * D, hidden);
      wk.logits.get(b * c.vocab(), logits);
      out[b] = new Decoder.Step(Decoder.argmax(wk.logits, b * c.vocab(), c.vocab()), hidden, logits);
    }
    return out;
  }

  private static void addBias(FloatBuffer y, float[] bias, int rows) {
    if (bias == null) return;
    for (int r = 0, n = bias.length; r < rows; r++)
      for (int j = 0; j < n; j++) y.put(r * n + j, y.get(r * n + j) + bias[j]);
  }

  /**
   * Row b of src {@code [B, G*d]} into row {@code row} of a cache {@code [cap, G, d]}, in the cache's
   * type, through a pointer positioned there (bounds-checked against the cache's length).
   */
  private void append(Data cache, long row, FloatBuffer src, int b, Work wk) {
    int width = c.kvHeads() * c.headDim();
    long at = row * width;
    if (cache.type() == ElementType.BF16) {
      ShortPointer dst = new ShortPointer(cache.pointer()).capacity(cache.length()).position(at);
      Kernels.roundBf16(Data.of(src.slice(b * width, width)), Data.bf16(dst, width));
    } else {
      src.get(b * width, wk.row, 0, width);
      Data.of(new FloatPointer(cache.pointer()).capacity(cache.length()).position(at), width).copyFrom(wk.row);
    }
  }

  private Work work(int rows) {
    Work wk = work.get();
    if (wk == null || wk.rows != rows) {
      wk = new Work(rows, c);
      work.set(wk);
    }
    return wk;
  }

  /** One thread's buffers for steps of {@code rows} rows, reused step after step. */
  private static final class Work {
    final int rows;
    final FloatBuffer x, h, q, k, v, o, gate, up, logits;
    final ShortBuffer qBits;
    final Data xData, hData, qData, oData, gateData, upData, logitsData;
    final Data[] qkvData, residual;
    final Data qBitsData;
    final float[] row; // a K/V row on its way into a float32 cache

    Work(int rows, DecoderConfig c) {
      this.rows = rows;
      int D = c.hidden(), qw = c.heads() * c.headDim(), kvw = c.kvHeads() * c.headDim();
      x = floats(rows, D);
      h = floats(rows, D);
      q = floats(rows, qw);
      k = floats(rows, kvw);
      v = floats(rows, kvw);
      o = floats(rows, qw);
      gate = floats(rows, c.mlp());
      up = floats(rows, c.mlp());
      logits = floats(rows, c.vocab());
      qBits = aligned((long) rows * qw * Short.BYTES).asShortBuffer();
      xData = Data.of(x);
      hData = Data.of(h);
      qData = Data.of(q);
      oData = Data.of(o);
      gateData = Data.of(gate);
      logitsData = Data.of(logits);
      qkvData = new Data[] {qData, Data.of(k), Data.of(v)};
      upData = Data.of(up);
      residual = new Data[] {xData};
      qBitsData = Data.bf16(qBits);
      row = new float[kvw];
    }

    private static FloatBuffer floats(int rows, int width) {
      return aligned((long) rows * width * Float.BYTES).asFloatBuffer();
    }

    /** Direct memory on a 64-byte boundary (whole cache lines for the kernels' vector loads). */
    static ByteBuffer aligned(long bytes) {
      if (bytes > Integer.MAX_VALUE - 64)
        throw new IllegalArgumentException("decode buffers: " + bytes + " bytes exceed a direct buffer (2 GiB)");
      int whole = (int) ((bytes + 63) / 64 * 64); // alignedSlice keeps whole 64-byte units only
      return ByteBuffer.allocateDirect(whole + 64).alignedSlice(64).limit((int) bytes).slice()
          .order(ByteOrder.nativeOrder());
    }
  }

  /** Values in direct memory, for the native row steps (an array would be copied at every call). */
  private static Data direct(float[] values) {
    if (values == null) return null;
    FloatBuffer b = Work.aligned((long) values.length * Float.BYTES).asFloatBuffer();
    b.put(0, values);
    return Data.of(b);
  }

  /** A small tensor (bias, norm weight) as float32 values; null for none. */
  private static float[] floats(Tensor t) {
    if (t == null) return null;
    if (Tensors.is(t, torch.ScalarType.Float)) return Decoder.toArray(t);
    try (Tensor f = t.to(torch.ScalarType.Float)) {
      return Decoder.toArray(f);
    }
  }
}
