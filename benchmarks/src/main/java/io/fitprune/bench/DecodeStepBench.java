package io.fitprune.bench;

import io.fitprune.decoder.BatchDecoder;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderState;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.Tensors;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * One greedy decode step of a LLaMA-7B-sized layer stack (4 layers, D = 4096, 32 heads, SwiGLU
 * 11008, BF16 weights) plus the final norm and the 32064-row LM head, as the reference decoder
 * runs it after a 48-token prefill: {@code step1} for one sequence, {@code step8} for a batch of 8
 * (each weight read once for all 8 rows). Beside them, in the same run, the machine's read
 * bandwidth over as many bytes as the step's weights ({@code readProbe} on all threads,
 * {@code readProbe1T} on one): the ratio step / probe is the inverse of the step's bandwidth
 * efficiency (goal: at least 0.85, so at most 1.18). Sequences are prefilled again before each
 * iteration, so the K/V caches stay short (they are read too, but are small next to the weights).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecodeStepBench {
  static final int LAYERS = 4, D = 4096, F = 11008, VOCAB = 32064, PREFILL = 48, RESERVE = 1000;
  private BatchDecoder batch;
  private Decoder dec;
  private List<DecoderState> one, eight;
  private int[] tokens1, tokens8;
  private BytePointer probe;
  private long weightBytes;

  @Setup
  public void setup() {
    io.fitprune.decoder.DecoderRuntime.tuneProcess();
    DecoderConfig c = new DecoderConfig(new Geometry("llama-7b-4-layers", LAYERS, D, 32, 32, 128, F, 16, 16, 16), VOCAB,
        10000.0, 1e-5);
    dec = new Decoder(DecoderWeights.random(c, 3).converted(torch.ScalarType.BFloat16));
    System.gc(); // the float32 originals
    batch = new BatchDecoder(dec);
    DecoderWeights w = dec.weights();
    weightBytes = w.lmHead().nbytes();
    for (int l = 0; l < LAYERS; l++) {
      DecoderWeights.Layer lw = w.layer(l);
      for (Tensor t : new Tensor[] {lw.q(), lw.k(), lw.v(), lw.o(), lw.gate(), lw.up(), lw.down()}) weightBytes += t.nbytes();
    }
    probe = new BytePointer(weightBytes);
    for (long i = 0; i < weightBytes; i += 4096) probe.put(i, (byte) i); // mapped, not the zero page
    System.out.printf("%nweights read per step: %.3f GB%n", weightBytes / 1e9);
  }

  @Setup(Level.Iteration)
  public void prefill() {
    close();
    one = prefill(1);
    eight = prefill(8);
    tokens1 = new int[1];
    tokens8 = new int[8];
  }

  private List<DecoderState> prefill(int count) {
    List<BatchDecoder.Request> req = new ArrayList<>();
    Random r = new Random(count);
    for (int b = 0; b < count; b++) {
      float[] e = new float[PREFILL * D];
      for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
      req.add(new BatchDecoder.Request(Tensors.of(e, PREFILL, D), new Spans(4, 32), null));
    }
    List<DecoderState> out = new ArrayList<>();
    for (Decoder.Prefill p : batch.prefill(req, RESERVE)) out.add(p.state());
    return out;
  }

  private static int[] step(BatchDecoder batch, List<DecoderState> states, int[] tokens) {
    Decoder.Step[] s = batch.step(states, tokens);
    for (int b = 0; b < tokens.length; b++) tokens[b] = s[b].nextToken();
    return tokens;
  }

  @Benchmark
  public void step1(Blackhole bh) {
    bh.consume(step(batch, one, tokens1));
  }

  @Benchmark
  public void step8(Blackhole bh) {
    bh.consume(step(batch, eight, tokens8));
  }

  @Benchmark
  public double readProbe() {
    return Kernels.readBandwidth(probe, weightBytes, 0);
  }

  @Benchmark
  public double readProbe1T() {
    return Kernels.readBandwidth(probe, weightBytes, 1);
  }

  @TearDown(Level.Iteration)
  public void close() {
    for (List<DecoderState> l : java.util.Arrays.asList(one, eight))
      if (l != null) for (DecoderState s : l) s.close();
  }
}
