package io.fitprune.vision;

import io.fitprune.decoder.DecoderWeights;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The weights of a CLIP vision tower and a LLaVA projector, with their configurations: seeded
 * random ({@link #random}) or bound to a checkpoint's tensors in place ({@link VisionCheckpoint}).
 * Matrices (patch convolution, projections, MLP, projector) and their biases keep their type
 * (F32, BF16 or F16); norms, the class and the position embeddings are float32 (they feed the
 * float32 residual stream).
 */
public final class VisionWeights {
  private final ClipVisionConfig tower;
  private final ProjectorConfig projector;
  final ClipEmbeddings embeddings;
  final LayerNorm preNorm;
  final List<ClipEncoderLayer> layers;
  final LlavaProjector proj;
  private final List<Object> keepAlive; // memory mappings the tensors point into
  private final String source;

  VisionWeights(ClipVisionConfig tower, ProjectorConfig projector, ClipEmbeddings embeddings, LayerNorm preNorm,
      List<ClipEncoderLayer> layers, LlavaProjector proj, List<Object> keepAlive, String source) {
    this.tower = tower;
    this.projector = projector;
    this.embeddings = embeddings;
    this.preNorm = preNorm;
    this.layers = List.copyOf(layers);
    this.proj = proj;
    this.keepAlive = keepAlive;
    this.source = source;
  }

  public ClipVisionConfig towerConfig() {
    return tower;
  }

  public ProjectorConfig projectorConfig() {
    return projector;
  }

  /** Where the weights came from ("random seed 1" or the checkpoint path). */
  public String source() {
    return source;
  }

  /** The element type of the tower's matrices (the projector's may differ). */
  public torch.ScalarType matrixType() {
    return layers.get(0).q().scalar_type();
  }

  /**
   * Seeded random weights of the configured shapes, float32: matrices uniform with standard
   * deviation {@code 1/sqrt(in)}, every bias, norm offset and embedding non-zero (so a test sees
   * each one used), norm scales around 1. Same seed, same weights.
   */
  public static VisionWeights random(ClipVisionConfig c, ProjectorConfig pc, long seed) {
    checkPair(c, pc);
    SplittableRandom r = new SplittableRandom(seed);
    int d = c.hiddenSize(), f = c.intermediateSize(), t = pc.textHidden(), in = c.channels() * c.patchSize() * c.patchSize();
    ClipEmbeddings emb = new ClipEmbeddings(u(r, 1 / Math.sqrt(in), d, in), u(r, 0.5, d), u(r, 0.5, c.positions(), d));
    List<ClipEncoderLayer> layers = new ArrayList<>();
    Activation act = Activation.of("hidden_act", c.hiddenAct());
    for (int l = 0; l < c.layers(); l++)
      layers.add(new ClipEncoderLayer(norm(r, d, c.layerNormEps()), u(r, 1 / Math.sqrt(d), d, d), u(r, 0.1, d),
          u(r, 1 / Math.sqrt(d), d, d), u(r, 0.1, d), u(r, 1 / Math.sqrt(d), d, d), u(r, 0.1, d),
          u(r, 0.5 / Math.sqrt(d), d, d), u(r, 0.1, d), norm(r, d, c.layerNormEps()), u(r, 1 / Math.sqrt(d), f, d),
          u(r, 0.1, f), u(r, 0.5 / Math.sqrt(f), d, f), u(r, 0.1, d), act));
    Activation pact = Activation.of("projector_hidden_act", pc.act());
    LlavaProjector proj = new LlavaProjector(u(r, 1 / Math.sqrt(d), t, d), pc.bias() ? u(r, 0.1, t) : null,
        u(r, 1 / Math.sqrt(t), t, t), pc.bias() ? u(r, 0.1, t) : null, pact);
    return new VisionWeights(c, pc, emb, norm(r, d, c.layerNormEps()), layers, proj, List.of(), "random seed " + seed);
  }

  private static Tensor u(SplittableRandom r, double std, long... shape) {
    return DecoderWeights.uniform(r.nextLong(), std, shape);
  }

  private static LayerNorm norm(SplittableRandom r, int d, double eps) {
    Tensor w = u(r, 0.2, d);
    w.add_(new org.bytedeco.pytorch.Scalar(1.0));
    return new LayerNorm(w, u(r, 0.1, d), eps);
  }

  /**
   * A copy with every matrix and its bias converted to {@code type} (norms and embeddings stay
   * float32): the bf16 twin of random weights, to compare precisions on the same values. New
   * memory: binding a checkpoint never does this.
   */
  public VisionWeights converted(torch.ScalarType type) {
    ClipEmbeddings e = new ClipEmbeddings(conv(embeddings.patch(), type), embeddings.cls(), embeddings.pos());
    List<ClipEncoderLayer> out = new ArrayList<>();
    for (ClipEncoderLayer l : layers)
      out.add(new ClipEncoderLayer(l.norm1(), conv(l.q(), type), conv(l.qBias(), type), conv(l.k(), type),
          conv(l.kBias(), type), conv(l.v(), type), conv(l.vBias(), type), conv(l.out(), type), conv(l.outBias(), type),
          l.norm2(), conv(l.fc1(), type), conv(l.fc1Bias(), type), conv(l.fc2(), type), conv(l.fc2Bias(), type), l.act()));
    LlavaProjector p = new LlavaProjector(conv(proj.linear1(), type), conv(proj.bias1(), type), conv(proj.linear2(), type),
        conv(proj.bias2(), type), proj.act());
    return new VisionWeights(tower, projector, e, preNorm, out, p, keepAlive, source + " as " + type);
  }

  private static Tensor conv(Tensor t, torch.ScalarType type) {
    return t == null ? null : t.to(type).contiguous();
  }

  /** The tower's and the projector's configurations must agree on the vision width. */
  static void checkPair(ClipVisionConfig c, ProjectorConfig pc) {
    if (c == null) throw new IllegalArgumentException("vision config is null");
    if (pc == null) throw new IllegalArgumentException("projector config is null");
    if (pc.visionHidden() != c.hiddenSize())
      throw new IllegalArgumentException("projector input width (" + pc.visionHidden() + ") must equal the vision "
          + "tower's hidden_size (" + c.hiddenSize() + ")");
    pc.stateIndex(c.layers()); // vision_feature_layer in range
  }

  /** Mappings the tensors point into; kept reachable for the weights' lifetime. */
  List<Object> keepAlive() {
    return keepAlive;
  }
}
