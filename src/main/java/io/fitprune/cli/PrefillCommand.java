package io.fitprune.cli;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Pruned (or unpruned) prefill and greedy decoding on a user's checkpoint and input embeddings. */
@Command(name = "prefill", mixinStandardHelpOptions = true,
    description = {"Run the reference decoder on a LLaMA-family checkpoint: prefill input embeddings (pruned by a "
        + "recipe, or not) and decode greedily. Prints the time, the tokens kept per layer and the output ids.",
        "Embeddings file: float32 tensor 'embeds' [n, D]; optionally an integer tensor 'spans' = [prefix, visual]."})
final class PrefillCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL", description = "Model file (models/X.json) or bundled model name.")
  String model;

  @Option(names = "--weights", required = true, paramLabel = "W.safetensors",
      description = "Hugging Face LLaMA weights (F32 memory-mapped; BF16/F16 converted on load).")
  Path weights;

  @Option(names = "--embeds", required = true, paramLabel = "E.safetensors", description = "Input embeddings: 'embeds' [n, D] float32.")
  Path embeds;

  @Option(names = "--recipe", paramLabel = "R.json", description = "Pruning recipe for this model (none: unpruned).")
  Path recipe;

  @Option(names = "--generate", defaultValue = "0", paramLabel = "N", description = "Greedy tokens to generate after the prefill. Default: ${DEFAULT-VALUE}.")
  int generate;

  @Option(names = "--name-prefix", defaultValue = "", paramLabel = "PREFIX",
      description = "Prefix of the language model's tensor names (LLaVA: 'language_model.'). Default: none.")
  String namePrefix;

  @Option(names = "--prefix", paramLabel = "P", description = "Prefix tokens before the image (default: the embeddings file's 'spans', else the model's prefixTokens).")
  Integer prefixTokens;

  @Option(names = "--visual", paramLabel = "V", description = "Visual tokens (default: the embeddings file's 'spans', else the model's visualTokens).")
  Integer visualTokens;

  @Option(names = "--rope-theta", defaultValue = "10000", description = "RoPE base. Default: ${DEFAULT-VALUE}.")
  double ropeTheta;

  @Option(names = "--rms-eps", defaultValue = "1e-5", description = "RMSNorm epsilon. Default: ${DEFAULT-VALUE}.")
  double rmsEps;

  @Option(names = "--visual-policy", defaultValue = "REFUSE", description = "When the input's visual token count differs "
      + "from the recipe's: REFUSE (an error) or SCALE (per-layer counts scaled to the input). Default: ${DEFAULT-VALUE}.")
  VisualCountPolicy visualPolicy;

  @Option(names = "--repeats", defaultValue = "1", description = "Timed prefills; the median is printed. Default: ${DEFAULT-VALUE}.")
  int repeats;

  @Override
  public Integer call() throws Exception {
    if (generate < 0) throw new IllegalArgumentException("--generate must be >= 0, got " + generate);
    if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
    Geometry g = Geometries.resolve(model);
    DecoderConfig cfg = DecoderConfig.of(g, 1, ropeTheta, rmsEps);
    DecoderWeights w = DecoderWeights.load(weights, cfg, namePrefix, true);
    if (generate > 1 && w.embed() == null)
      throw new IllegalArgumentException("--generate " + generate + " needs '" + namePrefix
          + "model.embed_tokens.weight' in --weights to feed tokens back");
    Decoder dec = new Decoder(w);
    Input in = readEmbeds(embeds, g);
    int P = prefixTokens != null ? prefixTokens : in.prefix != null ? in.prefix : g.prefixTokens();
    int V = visualTokens != null ? visualTokens : in.visual != null ? in.visual : g.visualTokens();
    if (P < 0 || V < 0 || P + V > in.n)
      throw new IllegalArgumentException("--prefix/--visual: prefix " + P + " + visual " + V + " must fit in the "
          + in.n + " tokens of --embeds");
    int T = in.n - P - V;
    Pruner pruner = Pruner.none();
    int[] prune = null;
    if (recipe != null) {
      Recipe r = RecipeFiles.read(recipe, g);
      prune = r.prune();
      pruner = Pruner.of(r, g, visualPolicy);
    }
    double[] secs = new double[repeats];
    Decoder.Prefill p = null;
    for (int i = 0; i < repeats; i++) {
      if (p != null) p.close();
      p = dec.prefill(in.tensor, new Spans(P, V), pruner, Math.max(generate, 1));
      secs[i] = p.seconds();
    }
    Arrays.sort(secs);
    int[] ids = dec.generate(p, generate);
    int[] after = p.visualAfter();
    int[] entering = new int[g.layers()];
    int alive = V;
    for (int l = 0; l < g.layers(); l++) {
      entering[l] = P + alive + T;
      alive = after[l];
    }
    System.out.printf(Locale.ROOT, "model %s (L=%d, D=%d, H=%d, G=%d, F=%d, vocab %d), weights %s%n", g.name(), g.layers(),
        g.hidden(), g.heads(), g.kvHeads(), g.mlp(), w.config().vocab(), weights);
    System.out.printf(Locale.ROOT, "input: %d tokens = %d prefix + %d visual + %d text%n", in.n, P, V, T);
    System.out.printf(Locale.ROOT, "prefill: %.1f ms%s, %s%n", 1e3 * secs[repeats / 2], repeats > 1 ? " (median of " + repeats + ")" : "",
        prune == null ? "unpruned" : "recipe " + Arrays.toString(prune));
    if (prune != null && V == g.visualTokens()) {
      FlopsModel m = new FlopsModel(g, Scope.FULL, P, T);
      Cost c = m.evaluate(prune);
      System.out.printf(Locale.ROOT, "full-scope FLOPs: %.3g of %.3g (%.1f%% cut, predicted speedup %.2fx)%n", c.pruned(),
          c.baseline(), 100 * c.reduction(), c.baseline() / c.pruned());
    }
    System.out.println("tokens entering each layer: " + Arrays.toString(entering));
    System.out.println("visual tokens kept after each layer: " + Arrays.toString(after));
    System.out.println("kv cache length per layer: " + Arrays.toString(p.state().kvLengths()));
    System.out.println("output ids: " + Arrays.toString(ids.length == 0 ? new int[] {p.nextToken()} : ids));
    return 0;
  }

  record Input(Tensor tensor, int n, Integer prefix, Integer visual) {}

  static Input readEmbeds(Path file, Geometry g) throws Exception {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      TensorInfo t = f.tensors().get("embeds");
      if (t == null) throw new IllegalArgumentException("--embeds: " + file + " has no tensor 'embeds' (it has "
          + f.tensors().keySet() + ")");
      if (t.dtype() != DType.F32) throw new IllegalArgumentException("--embeds: tensor 'embeds' must be F32, got " + t.dtype());
      if (t.shape().length != 2 || t.shape()[1] != g.hidden() || t.shape()[0] < 1)
        throw new IllegalArgumentException("--embeds: tensor 'embeds' must have shape [n, " + g.hidden() + "], got "
            + t.shapeString());
      FloatBuffer fb = f.floats("embeds");
      Tensor mapped = torch.from_blob(new FloatPointer(fb), t.shape());
      Tensor copy = mapped.clone(); // the decoder copies anyway; this one owns its memory
      Integer pre = null, vis = null;
      if (f.tensors().containsKey("spans")) {
        long[] s = f.readLongs("spans");
        if (s.length != 2) throw new IllegalArgumentException("--embeds: tensor 'spans' must hold [prefix, visual], got "
            + s.length + " values");
        pre = Math.toIntExact(s[0]);
        vis = Math.toIntExact(s[1]);
      }
      java.lang.ref.Reference.reachabilityFence(fb);
      return new Input(copy, (int) t.shape()[0], pre, vis);
    }
  }
}
