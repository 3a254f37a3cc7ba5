package io.fitprune.bench;

import io.fitprune.decoder.BatchDecoder;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderRuntime;
import io.fitprune.decoder.DecoderState;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A ragged batch of 8 requests (100 to 1100 tokens; LLaVA-1.5 heads H = G = 32, d = 128; 35
 * prefix tokens, 39 text tokens, the rest visual), packed against a loop over the requests, in one
 * run:
 * <ul>
 *   <li>{@code batchedAttentionScores}: one packed fused attention + score call for all 8
 *       ({@code Kernels.attentionScores(BatchShape, ...)}: the scores reuse the attention's logits);
 *   <li>{@code loopAttentionScores}: 8 single-sequence attention calls each followed by its separate
 *       score call ({@code Kernels.attention} then {@code Kernels.scores}), on the same memory. The
 *       ratio of the two therefore includes the fusion's saving (the score pass's own q*k^T) as
 *       well as the batching's; the loop is left as the unfused baseline it has always been.
   <li>{@code loopFusedAttentionScores}: 8 single-sequence fused calls
 *       ({@code Kernels.attentionScores(AttentionShape, ...)}): against it the packed call shows
 *       what batching alone gains;
 *   <li>{@code batchedDecode}: one decode-attention call, one new token per request, against
 *       each request's K/V cache (its own length);
 *   <li>{@code loopDecode}: 8 single-request decode calls;
 *   <li>{@code batchedDecodeBf16}: {@code batchedDecode} on the same q and caches rounded to bf16
 *       (half the cache bytes to read; fp32 output);
 *   <li>{@code batchedDecodeStep}: one whole decoder step (every layer, dense layers included)
 *       for the 8 requests together, on the demo model (8 layers, D = 1024, H = 16, G = 4), each
 *       request's caches from its prefill ({@code BatchDecoder});
 *   <li>{@code loopDecodeStep}: the same as 8 single-request steps.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class BatchBench {
  static final long[] LENGTHS = {100, 240, 380, 520, 660, 800, 950, 1100};
  static final int H = 32, G = 32, D = 128, PREFIX = 35, TEXT = 39;

  private BatchShape batch;
  private Spans[] spans;
  private Data q, k, v, out, lse, self, cross;
  private AttentionShape[] one;
  private Data[] qs, ks, vs, outs, lses, selfs, crosses;
  // decode: one new token per request; caches are the prefill's k/v rows of the request
  private BatchShape step, stepOne;
  private Data dq, dout, dlse;
  private Data[] kc, vc, dqs, douts, dlses;
  private long[] kvLen;
  private Data bq;
  private Data[] bkc, bvc;

  @Setup(Level.Trial)
  public void setup() {
    Batch b = Batch.ofLengths(LENGTHS);
    batch = new BatchShape(b, H, G, D);
    AttentionShape all = batch.packed();
    Random rnd = new Random(42);
    q = random(rnd, all.qLength());
    k = random(rnd, all.kvLength());
    v = random(rnd, all.kvLength());
    out = Data.allocate(ElementType.FP32, all.qLength());
    lse = Data.allocate(ElementType.FP32, all.lseLength());
    int B = b.size();
    spans = new Spans[B];
    long visual = 0;
    for (int i = 0; i < B; i++) {
      spans[i] = new Spans(PREFIX, LENGTHS[i] - PREFIX - TEXT);
      visual += spans[i].visual();
    }
    self = Data.allocate(ElementType.FP32, visual);
    cross = Data.allocate(ElementType.FP32, visual);

    one = new AttentionShape[B];
    qs = new Data[B]; ks = new Data[B]; vs = new Data[B]; outs = new Data[B];
    lses = new Data[B]; selfs = new Data[B]; crosses = new Data[B];
    kc = new Data[B]; vc = new Data[B]; dqs = new Data[B]; douts = new Data[B]; dlses = new Data[B];
    kvLen = new long[B];
    long visual0 = 0;
    for (int i = 0; i < B; i++) {
      one[i] = batch.sequence(i);
      long s0 = b.start(i), n = LENGTHS[i];
      qs[i] = view(q, s0 * H * D, n * H * D);
      ks[i] = view(k, s0 * G * D, n * G * D);
      vs[i] = view(v, s0 * G * D, n * G * D);
      outs[i] = view(out, s0 * H * D, n * H * D);
      lses[i] = Data.allocate(ElementType.FP32, one[i].lseLength());
      selfs[i] = view(self, visual0, spans[i].visual());
      crosses[i] = view(cross, visual0, spans[i].visual());
      visual0 += spans[i].visual();
      kc[i] = ks[i];
      vc[i] = vs[i];
      kvLen[i] = n;
    }
    long[] ones = new long[B];
    java.util.Arrays.fill(ones, 1);
    step = new BatchShape(Batch.ofLengths(ones), H, G, D);
    stepOne = new BatchShape(Batch.single(1), H, G, D);
    dq = random(rnd, (long) B * H * D);
    dout = Data.allocate(ElementType.FP32, (long) B * H * D);
    dlse = Data.allocate(ElementType.FP32, (long) B * H);
    bq = bf16(dq);
    bkc = new Data[B];
    bvc = new Data[B];
    for (int i = 0; i < B; i++) {
      bkc[i] = bf16(kc[i]);
      bvc[i] = bf16(vc[i]);
    }
    for (int i = 0; i < B; i++) {
      dqs[i] = view(dq, (long) i * H * D, (long) H * D);
      douts[i] = view(dout, (long) i * H * D, (long) H * D);
      dlses[i] = Data.allocate(ElementType.FP32, H);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Data f : new Data[] {q, k, v, out, lse, self, cross, dq, dout, dlse}) f.close();
    bq.close();
    for (int i = 0; i < LENGTHS.length; i++) {
      bkc[i].close();
      bvc[i].close();
    }
    for (int i = 0; i < LENGTHS.length; i++) {
      lses[i].close();
      dlses[i].close();
    }
  }

  private static Data random(Random rnd, long count) {
    Data f = Data.allocate(ElementType.FP32, count);
    float[] a = new float[Math.toIntExact(count)];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    f.copyFrom(a);
    return f;
  }

  /** f rounded to bf16, in native memory of its own. */
  private static Data bf16(Data f) {
    float[] a = f.toFloats();
    Data b = Data.allocate(ElementType.BF16, a.length);
    b.copyFrom(Data.roundBf16(a).toShorts());
    return b;
  }

  /** Elements [from, from+count) of f, zero-copy. */
  private static Data view(Data f, long from, long count) {
    return Data.of(new FloatPointer(f.pointer()).position(from), count);
  }

  @Benchmark
  public Data batchedAttentionScores() {
    Kernels.attentionScores(batch, spans, q, k, v, out, lse, self, cross);
    return cross;
  }

  @Benchmark
  public Data loopAttentionScores() {
    for (int i = 0; i < one.length; i++) {
      Kernels.attention(one[i], qs[i], ks[i], vs[i], outs[i], lses[i]);
      Kernels.scores(one[i], spans[i], qs[i], ks[i], lses[i], selfs[i], crosses[i]);
    }
    return cross;
  }

  @Benchmark
  public Data loopFusedAttentionScores() {
    for (int i = 0; i < one.length; i++)
      Kernels.attentionScores(one[i], spans[i], qs[i], ks[i], vs[i], outs[i], lses[i], selfs[i], crosses[i]);
    return cross;
  }

  /** The demo model after a batched prefill of the 8 requests (lengths as above), with room to decode. */
  @State(Scope.Benchmark)
  public static class Steps {
    BatchDecoder dec;
    List<DecoderState> states;
    int[] tokens;

    @Setup(Level.Trial)
    public void setup() {
      DecoderRuntime.tuneProcess();
      int L = 8, Dm = 1024, Hm = 16, Gm = 4;
      Geometry g = new Geometry("fitprune-demo-base", L, Dm, Hm, Gm, Dm / Hm, 2816, 576, 16, 32);
      dec = new BatchDecoder(new Decoder(DecoderWeights.random(new DecoderConfig(g, 512, 10000.0, 1e-5), 1)));
      Random rnd = new Random(9);
      List<BatchDecoder.Request> reqs = new ArrayList<>();
      for (long n : LENGTHS) {
        float[] e = new float[(int) n * Dm];
        for (int i = 0; i < e.length; i++) e[i] = (float) rnd.nextGaussian();
        reqs.add(new BatchDecoder.Request(torch.from_blob(new FloatPointer(e), n, Dm).clone(),
            new Spans(PREFIX, n - PREFIX - TEXT), null));
      }
      List<Decoder.Prefill> ps = dec.prefill(reqs, 4096);
      states = new ArrayList<>();
      tokens = new int[ps.size()];
      for (int b = 0; b < ps.size(); b++) {
        states.add(ps.get(b).state());
        tokens[b] = ps.get(b).nextToken();
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      states.forEach(DecoderState::close);
    }
  }

  @Benchmark
  public Decoder.Step[] batchedDecodeStep(Steps s) {
    return s.dec.step(s.states, s.tokens);
  }

  @Benchmark
  public Decoder.Step[] loopDecodeStep(Steps s) {
    Decoder.Step[] out = new Decoder.Step[s.tokens.length];
    for (int b = 0; b < out.length; b++) out[b] = s.dec.step(List.of(s.states.get(b)), new int[] {s.tokens[b]})[0];
    return out;
  }

  @Benchmark
  public Data batchedDecode() {
    Kernels.decodeAttention(step, dq, kc, vc, kvLen, dout, dlse);
    return dout;
  }

  @Benchmark
  public Data batchedDecodeBf16() {
    Kernels.decodeAttention(step, bq, bkc, bvc, kvLen, dout, dlse);
    return dout;
  }

  @Benchmark
  public Data loopDecode() {
    for (int i = 0; i < one.length; i++)
      Kernels.decodeAttention(stepOne, dqs[i], new Data[] {kc[i]}, new Data[] {vc[i]}, new long[] {kvLen[i]},
          douts[i], dlses[i]);
    return dout;
  }
}
