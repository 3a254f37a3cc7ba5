package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Against libtorch on the same inputs: {@code scaled_dot_product_attention} (causal, GQA, its
 * {@code scale} argument) for the output, and an eager matmul-softmax (the reference FitPrune
 * code's way) for LSE and scores. Both sides are fp32, so the bound is fp32 rounding: 1e-5
 * relative. Scale "default" leaves SDPA's own 1/sqrt(d) and our shape's default.
 */
class TorchOracleTest {
  static Tensor tensor(float[] data, long... shape) {
    return torch.from_blob(new FloatPointer(data), shape).clone();
  }

  static float[] floats(Tensor t) {
    Tensor c = t.contiguous();
    float[] out = new float[(int) c.numel()];
    c.data_ptr_float().get(out);
    return out;
  }

  @ParameterizedTest(name = "n={0} H={1} G={2} d={3} P={4} V={5} scale={6}")
  @CsvSource({"77,8,2,64,5,40,default", "650,8,2,128,35,576,default", "650,32,32,128,35,576,default",
      "200,8,8,128,0,200,default", "77,8,2,64,5,40,0.05", "300,16,8,128,35,200,0.083333336", "90,4,2,40,10,50,1"})
  void matchesLibtorch(int n, int H, int G, int d, int P, int V, String scaleArg) {
    Random rnd = new Random(n * 7L + H);
    boolean byDefault = scaleArg.equals("default");
    AttentionShape shape = new AttentionShape(n, H, G, d);
    if (!byDefault) shape = shape.withSoftmaxScale(Float.parseFloat(scaleArg));
    double scale = byDefault ? 1.0 / Math.sqrt(d) : shape.softmaxScale();
    float[] q = Reference.gaussian(rnd, shape.qLength());
    float[] k = Reference.gaussian(rnd, shape.kvLength());
    float[] v = Reference.gaussian(rnd, shape.kvLength());
    Kernels.AttentionOutput ours = Kernels.attention(shape, q, k, v);
    Kernels.Scores ourScores = Kernels.scores(shape, new Spans(P, V), q, k, ours.lse());

    Tensor qh = tensor(q, n, H, d).permute(1, 0, 2);  // [H,n,d]
    Tensor kh = tensor(k, n, G, d).permute(1, 0, 2);  // [G,n,d]
    Tensor vh = tensor(v, n, G, d).permute(1, 0, 2);
    Tensor sdpa = torch.scaled_dot_product_attention(qh, kh, vh, new TensorOptional(), 0.0, true,
        byDefault ? new DoubleOptional() : new DoubleOptional(scale), G != H);
    float[] torchOut = floats(sdpa.permute(1, 0, 2));  // back to [n,H,d]
    double eOut = Reference.relError(ours.out(), torchOut);
    assertTrue(eOut <= 1e-5, "out vs torch SDPA: " + eOut);

    Tensor kr = kh.repeat_interleave(H / G, new org.bytedeco.pytorch.LongOptional(0), new org.bytedeco.pytorch.LongOptional());
    Tensor logits = qh.matmul(kr.transpose(1, 2)).mul(new Scalar(scale));
    Tensor mask = torch.triu(torch.full(new long[] {n, n}, new Scalar(Double.NEGATIVE_INFINITY)), 1);
    logits = logits.add(mask);
    float[] torchLse = floats(logits.logsumexp(new long[] {2}, false));
    assertTrue(Reference.relError(ours.lse(), torchLse) <= 1e-5, "lse vs torch");

    Tensor headMax = logits.softmax(2).amax(new long[] {0}, false);  // [n,n]
    Tensor visCols = headMax.narrow(1, P, V);
    float[] self = floats(visCols.narrow(0, P, V).sum(0).div(new Scalar(V)));
    int t = n - P - V;
    if (t > 0) {
      float[] cross = floats(visCols.narrow(0, P + V, t).sum(0).div(new Scalar(t)));
      assertTrue(Reference.relError(ourScores.cross(), cross) <= 1e-5, "cross vs torch eager");
    }
    assertTrue(Reference.relError(ourScores.self(), self) <= 1e-5, "self vs torch eager");
  }
}
