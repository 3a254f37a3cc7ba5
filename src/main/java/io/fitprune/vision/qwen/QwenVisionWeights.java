package io.fitprune.vision.qwen;

import io.fitprune.decoder.DecoderWeights;
import io.fitprune.vision.Activation;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The weights of a Qwen2-VL or Qwen2.5-VL vision tower with its configuration: seeded random
 * ({@link #random}) or bound to a checkpoint's tensors in place ({@link QwenVisionCheckpoint}).
 * Matrices and their biases keep their type (F32, BF16 or F16); norms are float32. The
 * {@code Conv3d} patch weight {@code [D, C, T, P, P]} is held as the matrix {@code [D, C*T*P*P]}:
 * with stride equal to the kernel the convolution is one product per patch, and its flatten order
 * is the processor's per-patch order (channel, frame, row, column).
 */
public final class QwenVisionWeights {
  private final QwenVisionConfig config;
  final Tensor patch;
  final List<VisionBlock> blocks;
  final PatchMerger merger;
  private final List<Object> keepAlive; // memory mappings the tensors point into
  private final String source;

  QwenVisionWeights(QwenVisionConfig config, Tensor patch, List<VisionBlock> blocks, PatchMerger merger,
      List<Object> keepAlive, String source) {
    this.config = config;
    this.patch = patch;
    this.blocks = List.copyOf(blocks);
    this.merger = merger;
    this.keepAlive = keepAlive;
    this.source = source;
  }

  public QwenVisionConfig config() {
    return config;
  }

  /** Where the weights came from ("random seed 1" or the checkpoint path). */
  public String source() {
    return source;
  }

  /** The element type of the blocks' matrices. */
  public torch.ScalarType matrixType() {
    return blocks.get(0).qkv().scalar_type();
  }

  /**
   * Seeded random weights of the configured shapes, float32: matrices uniform with standard
   * deviation {@code 1/sqrt(in)}, every bias and LayerNorm offset non-zero (so a test sees each one
   * used), norm scales around 1. Same seed, same weights.
   */
  public static QwenVisionWeights random(QwenVisionConfig c, long seed) {
    if (c == null) throw new IllegalArgumentException("vision config is null");
    Activation act = Activation.of("hidden_act", c.hiddenAct());
    SplittableRandom r = new SplittableRandom(seed);
    int d = c.hiddenSize(), f = c.intermediateSize(), in = c.patchValues(), mw = c.mergedWidth();
    boolean gated = c.family().windowed();
    Tensor patch = u(r, 1 / Math.sqrt(in), d, in);
    List<VisionBlock> blocks = new ArrayList<>();
    for (int l = 0; l < c.depth(); l++) {
      VisionNorm n1 = norm(r, d, gated);
      Tensor qkv = u(r, 1 / Math.sqrt(d), 3L * d, d), qkvB = u(r, 0.1, 3L * d);
      Tensor proj = u(r, 0.5 / Math.sqrt(d), d, d), projB = u(r, 0.1, d);
      VisionNorm n2 = norm(r, d, gated);
      VisionMlp mlp = gated
          ? new VisionMlp(u(r, 1 / Math.sqrt(d), f, d), u(r, 0.1, f), u(r, 1 / Math.sqrt(d), f, d), u(r, 0.1, f),
              u(r, 0.5 / Math.sqrt(f), d, f), u(r, 0.1, d), act)
          : new VisionMlp(u(r, 1 / Math.sqrt(d), f, d), u(r, 0.1, f), null, null, u(r, 0.5 / Math.sqrt(f), d, f),
              u(r, 0.1, d), act);
      blocks.add(new VisionBlock(n1, qkv, qkvB, proj, projB, n2, mlp));
    }
    PatchMerger merger = new PatchMerger(norm(r, d, gated), u(r, 1 / Math.sqrt(mw), mw, mw), u(r, 0.1, mw),
        u(r, 1 / Math.sqrt(mw), c.outHiddenSize(), mw), u(r, 0.1, c.outHiddenSize()));
    return new QwenVisionWeights(c, patch, blocks, merger, List.of(), "random seed " + seed);
  }

  private static Tensor u(SplittableRandom r, double std, long... shape) {
    return DecoderWeights.uniform(r.nextLong(), std, shape);
  }

  private static VisionNorm norm(SplittableRandom r, int d, boolean rms) {
    Tensor w = u(r, 0.2, d);
    try (Scalar one = new Scalar(1.0)) {
      w.add_(one);
    }
    return new VisionNorm(w, rms ? null : u(r, 0.1, d));
  }

  /**
   * A copy with every matrix and its bias converted to {@code type} (norms stay float32): the bf16
   * twin of random weights, to compare precisions on the same values. New memory: binding a
   * checkpoint never does this.
   */
  public QwenVisionWeights converted(torch.ScalarType type) {
    List<VisionBlock> out = new ArrayList<>();
    for (VisionBlock b : blocks) {
      VisionMlp m = b.mlp();
      out.add(new VisionBlock(b.norm1(), conv(b.qkv(), type), conv(b.qkvBias(), type), conv(b.proj(), type),
          conv(b.projBias(), type), b.norm2(), new VisionMlp(conv(m.in(), type), conv(m.inBias(), type), conv(m.up(), type),
              conv(m.upBias(), type), conv(m.out(), type), conv(m.outBias(), type), m.act())));
    }
    PatchMerger mg = new PatchMerger(merger.norm(), conv(merger.fc1(), type), conv(merger.fc1Bias(), type),
        conv(merger.fc2(), type), conv(merger.fc2Bias(), type));
    return new QwenVisionWeights(config, conv(patch, type), out, mg, keepAlive, source + " as " + type);
  }

  private static Tensor conv(Tensor t, torch.ScalarType type) {
    return t == null ? null : t.to(type).contiguous();
  }

  /** Mappings the tensors point into; kept reachable for the weights' lifetime. */
  List<Object> keepAlive() {
    return keepAlive;
  }
}
