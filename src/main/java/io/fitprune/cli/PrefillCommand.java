package io.fitprune.cli;

import io.fitprune.decoder.BatchDecoder;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

  @Option(names = "--embeds", required = true, paramLabel = "E.safetensors",
      description = "Input embeddings: 'embeds' [n, D] float32. Repeat for a batch (one request per file), or give one "
          + "file holding a packed batch: 'embeds' [N, D], 'cu_seqlens' I64 [B+1] and optionally 'spans' I64 [B,2].")
  List<Path> embeds;

  @Option(names = "--recipe", paramLabel = "R.json", description = "Pruning recipe for this model, or 'none' (unpruned). "
      + "One for every request, or one per request in order. Default: unpruned.")
  List<String> recipe;

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
    CliPaths.input("--weights", weights);
    for (Path e : embeds) CliPaths.input("--embeds", e);
    if (recipe != null)
      for (String r : recipe)
        if (!r.equals("none")) CliPaths.input("--recipe", Path.of(r));
    if (generate < 0) throw new IllegalArgumentException("--generate must be >= 0, got " + generate);
    if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
    Geometry g = Geometries.resolve(model);
    DecoderConfig cfg = DecoderConfig.of(g, 1, ropeTheta, rmsEps);
    DecoderWeights w = DecoderWeights.load(weights, cfg, namePrefix, true);
    if (generate > 1 && w.embed() == null)
      throw new IllegalArgumentException("--generate " + generate + " needs '" + namePrefix
          + "model.embed_tokens.weight' in --weights to feed tokens back");
    Decoder dec = new Decoder(w);
    List<Input> in = readInputs(embeds, g);
    int B = in.size();
    List<String> recipes = recipe == null ? List.of() : recipe;
    if (recipes.size() > 1 && recipes.size() != B)
      throw new IllegalArgumentException("--recipe: give one for every request or one per request (" + B + "), got "
          + recipes.size());
    int[] P = new int[B], V = new int[B], T = new int[B];
    int[][] prune = new int[B][];
    List<BatchDecoder.Request> requests = new ArrayList<>();
    for (int b = 0; b < B; b++) {
      Input x = in.get(b);
      String who = B == 1 ? "" : " (request " + b + ")";
      P[b] = prefixTokens != null ? prefixTokens : x.prefix != null ? x.prefix : g.prefixTokens();
      V[b] = visualTokens != null ? visualTokens : x.visual != null ? x.visual : g.visualTokens();
      if (P[b] < 0 || V[b] < 0 || P[b] + V[b] > x.n)
        throw new IllegalArgumentException("--prefix/--visual" + who + ": prefix " + P[b] + " + visual " + V[b]
            + " must fit in the " + x.n + " tokens of --embeds");
      T[b] = x.n - P[b] - V[b];
      String rec = recipes.isEmpty() ? "none" : recipes.get(recipes.size() == 1 ? 0 : b);
      Pruner pruner = Pruner.none();
      if (!rec.equals("none")) {
        Recipe r = RecipeFiles.read(Path.of(rec), g);
        prune[b] = r.prune();
        pruner = Pruner.of(r, g, visualPolicy);
      }
      requests.add(new BatchDecoder.Request(x.tensor, new Spans(P[b], V[b]), pruner));
    }
    BatchDecoder batch = new BatchDecoder(dec);
    double[] secs = new double[repeats];
    List<Decoder.Prefill> ps = null;
    for (int i = 0; i < repeats; i++) {
      if (ps != null) ps.forEach(Decoder.Prefill::close);
      ps = batch.prefill(requests, Math.max(generate, 1));
      secs[i] = ps.get(0).seconds();
    }
    Arrays.sort(secs);
    int[][] ids = batch.generate(ps, generate);
    System.out.printf(Locale.ROOT, "model %s (L=%d, D=%d, H=%d, G=%d, F=%d, vocab %d), weights %s%n", g.name(), g.layers(),
        g.hidden(), g.heads(), g.kvHeads(), g.mlp(), w.config().vocab(), weights);
    if (B > 1)
      System.out.printf(Locale.ROOT, "prefill of %d requests together: %.1f ms%s%n", B, 1e3 * secs[repeats / 2],
          repeats > 1 ? " (median of " + repeats + ")" : "");
    for (int b = 0; b < B; b++) {
      Decoder.Prefill p = ps.get(b);
      String lead = B == 1 ? "" : "request " + b + " ";
      int[] after = p.visualAfter();
      int[] entering = new int[g.layers()];
      int alive = V[b];
      for (int l = 0; l < g.layers(); l++) {
        entering[l] = P[b] + alive + T[b];
        alive = after[l];
      }
      System.out.printf(Locale.ROOT, "%sinput: %d tokens = %d prefix + %d visual + %d text%n", lead, in.get(b).n, P[b], V[b],
          T[b]);
      String how = prune[b] == null ? "unpruned" : "recipe " + Arrays.toString(prune[b]);
      if (B == 1)
        System.out.printf(Locale.ROOT, "prefill: %.1f ms%s, %s%n", 1e3 * secs[repeats / 2],
            repeats > 1 ? " (median of " + repeats + ")" : "", how);
      else
        System.out.printf(Locale.ROOT, "%sprefill: %s%n", lead, how);
      if (prune[b] != null && V[b] == g.visualTokens()) {
        FlopsModel m = new FlopsModel(g, Scope.FULL, P[b], T[b]);
        Cost c = m.evaluate(prune[b]);
        System.out.printf(Locale.ROOT, "%sfull-scope FLOPs: %.3g of %.3g (%.1f%% cut, predicted speedup %.2fx)%n", lead,
            c.pruned(), c.baseline(), 100 * c.reduction(), c.baseline() / c.pruned());
      }
      System.out.println(lead + "tokens entering each layer: " + Arrays.toString(entering));
      System.out.println(lead + "visual tokens kept after each layer: " + Arrays.toString(after));
      System.out.println(lead + "kv cache length per layer: " + Arrays.toString(p.state().kvLengths()));
      System.out.println(lead + "output ids: " + Arrays.toString(ids[b].length == 0 ? new int[] {p.nextToken()} : ids[b]));
    }
    ps.forEach(Decoder.Prefill::close);
    return 0;
  }

  /** Every request of the inputs: one per file, or the sequences of a file holding cu_seqlens. */
  static List<Input> readInputs(List<Path> files, Geometry g) throws Exception {
    List<Input> out = new ArrayList<>();
    for (Path f : files) out.addAll(readEmbedsFile(f, g));
    if (files.size() > 1 && out.size() != files.size())
      throw new IllegalArgumentException("--embeds: a file with cu_seqlens must be the only --embeds");
    return out;
  }

  record Input(Tensor tensor, int n, Integer prefix, Integer visual) {}

  static List<Input> readEmbedsFile(Path file, Geometry g) throws Exception {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      TensorInfo t = f.tensors().get("embeds");
      if (t == null) throw new IllegalArgumentException("--embeds: " + file + " has no tensor 'embeds' (it has "
          + f.tensors().keySet() + ")");
      if (t.dtype() != DType.F32) throw new IllegalArgumentException("--embeds: tensor 'embeds' must be F32, got " + t.dtype());
      if (t.shape().length != 2 || t.shape()[1] != g.hidden() || t.shape()[0] < 1)
        throw new IllegalArgumentException("--embeds: tensor 'embeds' must have shape [n, " + g.hidden() + "], got "
            + t.shapeString());
      FloatBuffer fb = f.floats("embeds");
      try {
        io.fitprune.kernels.Kernels.requireFinite("embeds", "[n,D]", io.fitprune.kernels.FloatData.of(fb), t.shape());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--embeds " + file + ": " + e.getMessage());
      }
      Tensor mapped = torch.from_blob(new FloatPointer(fb), t.shape());
      Tensor all = mapped.clone(); // the decoder copies anyway; this one owns its memory
      java.lang.ref.Reference.reachabilityFence(fb);
      long n = t.shape()[0];
      long[] cu = {0, n};
      if (f.tensors().containsKey("cu_seqlens")) {
        f.require("cu_seqlens", DType.I64, -1);
        try {
          cu = Batch.ofOffsets(f.readLongs("cu_seqlens")).offsets();
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--embeds: tensor 'cu_seqlens': " + e.getMessage());
        }
        if (cu[cu.length - 1] != n)
          throw new IllegalArgumentException("--embeds: tensor 'cu_seqlens' must end at the " + n + " rows of 'embeds', got "
              + cu[cu.length - 1]);
      }
      int B = cu.length - 1;
      long[] spans = null;
      if (f.tensors().containsKey("spans")) {
        spans = f.readLongs("spans");
        if (spans.length != 2 * B)
          throw new IllegalArgumentException("--embeds: tensor 'spans' must hold [prefix, visual] per sequence (" + 2 * B
              + " values), got " + spans.length);
      }
      List<Input> out = new ArrayList<>();
      for (int b = 0; b < B; b++) {
        int len = Math.toIntExact(cu[b + 1] - cu[b]);
        if (len < 1) throw new IllegalArgumentException("--embeds: sequence " + b + " of 'cu_seqlens' is empty");
        Tensor rows = B == 1 ? all : all.narrow(0, cu[b], len).clone();
        Integer pre = spans == null ? null : Math.toIntExact(spans[2 * b]);
        Integer vis = spans == null ? null : Math.toIntExact(spans[2 * b + 1]);
        out.add(new Input(rows, len, pre, vis));
      }
      if (B > 1) all.close();
      return out;
    }
  }
}
