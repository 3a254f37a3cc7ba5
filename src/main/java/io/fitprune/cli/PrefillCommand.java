package io.fitprune.cli;

import io.fitprune.decoder.BatchDecoder;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.Sampler;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.hf.ModelFolder;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Pruned (or unpruned) prefill and greedy decoding on a user's checkpoint and input embeddings. */
@Command(name = "prefill", mixinStandardHelpOptions = true,
    description = {"Run the reference decoder on a LLaMA-family checkpoint: prefill input embeddings (pruned by a "
        + "recipe, or not) and decode greedily. Prints the time, the tokens kept per layer and the output ids.",
        "Embeddings file: float32 tensor 'embeds' [n, D]; optionally an integer tensor 'spans' = [prefix, visual]."})
final class PrefillCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL",
      description = "Hugging Face model folder, model file (models/X.json) or bundled model name.")
  String model;

  @Option(names = "--weights", required = true, paramLabel = "W",
      description = "Hugging Face LLaMA-family weights: a .safetensors file, a model.safetensors.index.json (sharded) or "
          + "the directory holding it; memory-mapped, kept in their dtype (F32, BF16, F16).")
  Path weights;

  @Option(names = "--weights-in-memory", description = "Copy the weights from the mapped checkpoint into the process's "
      + "own memory (their size again in RAM). Decode reads every weight per token, and mapped file pages can stream "
      + "slower than anonymous memory.")
  boolean weightsInMemory;

  @Option(names = "--embeds", required = true, paramLabel = "E.safetensors",
      description = "Input embeddings: 'embeds' [n, D] float32. Repeat for a batch (one request per file), or give one "
          + "file holding a packed batch: 'embeds' [N, D], 'cu_seqlens' I64 [B+1] and optionally 'spans' I64 [B,2].")
  List<Path> embeds;

  @Option(names = "--recipe", paramLabel = "R.json", description = "Pruning recipe for this model, or 'none' (unpruned). "
      + "One for every request, or one per request in order. Default: unpruned.")
  List<String> recipe;

  /** Requests in one batch: each has caches and tensors per layer, and a step serves them all. */
  static final int MAX_REQUESTS = 1024;

  /** Positions a float32 RoPE angle (position * frequency) resolves exactly. */
  static final long MAX_POSITIONS = 1L << 24;

  @Option(names = "--generate", defaultValue = "0", paramLabel = "N", description = "Greedy tokens to generate after the prefill. Default: ${DEFAULT-VALUE}.")
  int generate;

  @Option(names = "--name-prefix", paramLabel = "PREFIX",
      description = "Prefix of the language model's tensor names before 'model.layers' and 'lm_head' ('' for plain LLaMA, "
          + "'language_model.' for llava-hf). Default: detected (llava-hf, model.language_model.*, or plain LLaMA).")
  String namePrefix;

  @Option(names = "--prefix", paramLabel = "P", description = "Prefix tokens before the image (default: the embeddings file's 'spans', else the model's prefixTokens).")
  Integer prefixTokens;

  @Option(names = "--visual", paramLabel = "V", description = "Visual tokens (default: the embeddings file's 'spans', else the model's visualTokens).")
  Integer visualTokens;

  @Mixin
  DecoderOptions decoder = new DecoderOptions();

  @Mixin
  PruningOptions pruning = new PruningOptions();

  @Option(names = "--repeats", defaultValue = "1", description = "Timed prefills; the median is printed. Default: ${DEFAULT-VALUE}.")
  int repeats;

  @Option(names = "--baseline", description = "With --recipe: also time unpruned prefills, alternating with the pruned ones "
      + "(same process, same load), and print the measured speedup beside the FLOPs-predicted one.")
  boolean baseline;

  @Override
  public Integer call() throws Exception {
    CliPaths.checkpoint("--weights", weights);
    for (Path e : embeds) CliPaths.input("--embeds", e);
    List<String> recipes = recipe == null ? List.of() : recipe;
    for (String r : recipes)
      if (!r.equals("none")) CliPaths.input("--recipe", Path.of(r));
    if (generate < 0) throw new IllegalArgumentException("--generate must be >= 0, got " + generate);
    if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
    pruning.noText(); // a bad value is refused before the weights load
    Geometry g = Geometries.resolve(model);
    boolean perImage = VisualCounts.perImage(model); // LLaVA-NeXT: recipes checked at their own count
    DecoderConfig cfg = decoder.config(g, model, weights);
    DecoderWeights w;
    try (Progress p = Progress.waiting("load weights")) {
      w = DecoderWeights.load(weights, cfg, namePrefix, true, DecoderOptions.tiedEmbeddings(model));
    }
    if (weightsInMemory) {
      try (Progress p = Progress.waiting("copy weights into memory")) {
        w = w.inMemory();
      }
      System.gc(); // drops the mappings the copy no longer needs
    }
    if (generate > 1 && w.embed() == null)
      throw new IllegalArgumentException("--generate " + generate
          + " needs the embedding table (model.embed_tokens.weight) in --weights to feed tokens back");
    Decoder dec = new Decoder(w);
    List<Input> inputs = readInputs(embeds, g);
    requireCacheRoom(inputs, cfg);
    if (inputs.size() > 1 || recipes.size() > 1) return runBatch(dec, w, g, inputs, recipes, perImage);
    Input in = inputs.get(0);
    String recipeFile = recipes.isEmpty() || recipes.get(0).equals("none") ? null : recipes.get(0);
    int P = prefixTokens != null ? prefixTokens : in.prefix != null ? in.prefix : g.prefixTokens();
    int V = visualTokens != null ? visualTokens : in.visual != null ? in.visual : g.visualTokens();
    if (P < 0 || V < 0 || (long) P + V > in.n)
      throw new IllegalArgumentException("--prefix/--visual: prefix " + P + " + visual " + V + " must fit in the "
          + in.n + " tokens of --embeds");
    int T = in.n - P - V;
    Pruner pruner = Pruner.none();
    int[] prune = null;
    if (recipeFile != null) {
      Recipe r = pruning.read(Path.of(recipeFile), g, perImage);
      prune = r.prune();
      pruner = pruning.pruner(r, recipeFile, VisualCounts.at(r, g, perImage), V, "");
    }
    if (baseline && prune == null) throw new IllegalArgumentException("--baseline compares against a --recipe; none given");
    double[] secs = new double[repeats], base = new double[repeats];
    Decoder.Prefill p = null;
    for (int i = 0; i < repeats; i++) {
      if (p != null) p.close();
      if (baseline) {
        try (Decoder.Prefill b = dec.prefill(in.tensor, new Spans(P, V), in.positions, Pruner.none(), Math.max(generate, 1))) {
          base[i] = b.seconds();
        }
      }
      p = dec.prefill(in.tensor, new Spans(P, V), in.positions, pruner, Math.max(generate, 1));
      secs[i] = p.seconds();
    }
    Arrays.sort(secs);
    Arrays.sort(base);
    double probeBefore = probeBeforeDecode(dec);
    long t0 = System.nanoTime();
    long[] chosen = new long[Math.max(generate, 0)]; // when each token was chosen: a step lies between two
    int[] counter = {0};
    int[] ids = dec.generate(p, generate, Sampler.greedy(), token -> {
      chosen[counter[0]++] = System.nanoTime();
      return true;
    });
    double decodeSec = (System.nanoTime() - t0) / 1e9;
    int[] after = p.visualAfter();
    int[] entering = entering(P, V, T, after);
    System.out.printf(Locale.ROOT, "model %s (L=%d, D=%d, H=%d, G=%d, F=%d, vocab %d), weights %s (%s, " + (weightsInMemory
        ? "copied into memory" : "memory-mapped") + ")%n",
        g.name(), g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.mlp(), w.config().vocab(), weights,
        w.layer(0).q().scalar_type());
    System.out.printf(Locale.ROOT, "input: %d tokens = %d prefix + %d visual + %d text%n", in.n, P, V, T);
    System.out.printf(Locale.ROOT, "prefill: %.1f ms%s, %s%n", 1e3 * secs[repeats / 2], repeats > 1 ? " (median of " + repeats + ")" : "",
        prune == null ? "unpruned" : "recipe " + Arrays.toString(prune));
    if (prune != null && V == g.visualTokens()) {
      FlopsModel m = new FlopsModel(g, Scope.FULL, P, T);
      Cost c = m.evaluate(prune);
      System.out.printf(Locale.ROOT, "full-scope FLOPs: %.3g of %.3g (%.1f%% cut, predicted speedup %.2fx)%n", c.pruned(),
          c.baseline(), 100 * c.reduction(), c.baseline() / c.pruned());
      if (baseline) {
        double measured = base[repeats / 2] / secs[repeats / 2];
        System.out.printf(Locale.ROOT, "unpruned prefill: %.1f ms%s; measured speedup %.2fx, measured / predicted %.2f%n",
            1e3 * base[repeats / 2], repeats > 1 ? " (median of " + repeats + ")" : "", measured,
            measured / (c.baseline() / c.pruned()));
      }
    }
    if (generate > 1) {
      printDecode(dec, generate - 1, decodeSec, probeBefore, "");
      printStepTimes(chosen);
    }
    System.out.println("tokens entering each layer: " + Arrays.toString(entering));
    System.out.println("visual tokens kept after each layer: " + Arrays.toString(after));
    System.out.println("kv cache length per layer: " + Arrays.toString(p.state().kvLengths()));
    System.out.println("output ids: " + Arrays.toString(ids.length == 0 ? new int[] {p.nextToken()} : ids));
    String hwm = peakRss();
    if (hwm != null) System.out.println("peak RSS (VmHWM): " + hwm);
    return 0;
  }

  /**
   * Every request's K/V caches hold its tokens plus --generate rows in every layer: refused up front
   * when a cache length passes 2^31 - 1 rows or all caches (at 2 bytes a value, bf16) pass the
   * machine's memory, instead of failing in libtorch or decoding for hours.
   */
  private void requireCacheRoom(List<Input> inputs, DecoderConfig cfg) throws java.io.IOException {
    double bytes = 0;
    long positions = 0;
    for (Input in : inputs) {
      long rows = (long) in.n + generate;
      if (rows > Integer.MAX_VALUE)
        throw new IllegalArgumentException("--generate " + generate + ": " + in.n + " input tokens + " + generate
            + " = " + rows + " cache rows, more than the 2^31 - 1 a cache holds");
      bytes += 2.0 * rows * cfg.layers() * 2 * cfg.kvWidth();
      positions = Math.max(positions, rows);
    }
    Path folder = Path.of(model);
    if (ModelFolder.isModelFolder(folder)) {
      int context = ModelFolder.open(folder).text().maxPositions();
      if (positions > context)
        throw new IllegalArgumentException("--generate " + generate + ": positions up to " + positions + ", past the "
            + context + " the model was trained for (max_position_embeddings in " + folder.resolve(ModelFolder.CONFIG) + ")");
    }
    if (positions > MAX_POSITIONS) // RoPE angles are float32 products position * frequency, as the reference computes them
      throw new IllegalArgumentException("--generate " + generate + ": positions up to " + positions + ", past the 2^24 "
          + "a float32 RoPE angle tells apart");
    MemoryCheck.require("--generate " + generate + " (K/V caches of " + cfg.layers() + " layers for " + inputs.size()
        + " request(s), and the RoPE table)", bytes, 4.0 * positions * cfg.headDim());
  }

  /** Several requests prefilled and decoded together (BatchDecoder); one recipe for all or one per request. */
  private int runBatch(Decoder dec, DecoderWeights w, Geometry g, List<Input> in, List<String> recipes,
      boolean perImage) throws Exception {
    int B = in.size();
    if (baseline) throw new IllegalArgumentException("--baseline compares one request's prefill with its unpruned run; got " + B);
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
        Recipe r = pruning.read(Path.of(rec), g, perImage);
        prune[b] = r.prune();
        pruner = pruning.pruner(r, rec, VisualCounts.at(r, g, perImage), V[b], who);
      }
      requests.add(new BatchDecoder.Request(x.tensor, new Spans(P[b], V[b]), pruner, x.positions));
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
    double probeBefore = probeBeforeDecode(dec);
    long t0 = System.nanoTime();
    long[] chosen = new long[Math.max(generate, 0)]; // when each step's tokens were chosen
    int[][] ids = batch.generate(ps, generate, i -> chosen[i] = System.nanoTime());
    double decodeSec = (System.nanoTime() - t0) / 1e9;
    System.out.printf(Locale.ROOT, "model %s (L=%d, D=%d, H=%d, G=%d, F=%d, vocab %d), weights %s%n", g.name(), g.layers(),
        g.hidden(), g.heads(), g.kvHeads(), g.mlp(), w.config().vocab(), weights);
    if (B > 1)
      System.out.printf(Locale.ROOT, "prefill of %d requests together: %.1f ms%s%n", B, 1e3 * secs[repeats / 2],
          repeats > 1 ? " (median of " + repeats + ")" : "");
    for (int b = 0; b < B; b++) {
      Decoder.Prefill p = ps.get(b);
      String lead = B == 1 ? "" : "request " + b + " ";
      int[] after = p.visualAfter();
      int[] entering = entering(P[b], V[b], T[b], after);
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
    if (generate > 1) {
      printDecode(dec, generate - 1, decodeSec, probeBefore, B > 1 ? ", " + B + " requests per step" : "");
      printStepTimes(chosen);
    }
    ps.forEach(Decoder.Prefill::close);
    return 0;
  }

  /** Tokens entering each layer: the prefix, the visual tokens alive after the layer before, the text. */
  static int[] entering(int prefix, int visual, int text, int[] visualAfter) {
    int[] out = new int[visualAfter.length];
    int alive = visual;
    for (int l = 0; l < out.length; l++) {
      out[l] = prefix + alive + text;
      alive = visualAfter[l];
    }
    return out;
  }

  /** Every request of the inputs: one per file, or the sequences of a file holding cu_seqlens. */
  static List<Input> readInputs(List<Path> files, Geometry g) throws Exception {
    List<Input> out = new ArrayList<>();
    for (Path f : files) out.addAll(readEmbedsFile(f, g));
    if (files.size() > 1 && out.size() != files.size())
      throw new IllegalArgumentException("--embeds: a file with cu_seqlens must be the only --embeds");
    return out;
  }

  /**
   * The read probe over the weights a decode step reads, just before decoding (with --generate > 1;
   * NaN otherwise). A first pass faults in mapped pages the prefill did not touch. The probe runs
   * again after decoding, so the efficiency is bracketed by two measurements of the same minutes:
   * on a shared machine the read bandwidth drifts by tens of percent between runs.
   */
  private double probeBeforeDecode(Decoder dec) {
    if (generate <= 1) return Double.NaN;
    dec.weightReadBandwidth();
    return dec.weightReadBandwidth();
  }

  /**
   * The decode line (its form is read by checks outside the project), then the weight bytes a step
   * read per second against the read probe over the same weights, run before decoding
   * ({@code probeBefore}) and again now.
   */
  private static void printDecode(Decoder dec, int steps, double seconds, double probeBefore, String suffix) {
    double secondsPerToken = seconds / steps;
    System.out.printf(Locale.ROOT, "decode: %d steps in %.2f s (%.1f ms per token)%s%n", steps, seconds,
        1e3 * secondsPerToken, suffix);
    double gb = dec.decodeWeightBytes() / 1e9, rate = gb / secondsPerToken;
    double probeAfter = dec.weightReadBandwidth();
    double lo = Math.min(probeBefore, probeAfter), hi = Math.max(probeBefore, probeAfter);
    System.out.printf(Locale.ROOT, "decode bandwidth: %.2f GB of weights per token, %.1f GB/s; read probe over the same "
        + "weights %.1f GB/s before decode, %.1f after (%.0f-%.0f%%)%n", gb, rate, probeBefore, probeAfter,
        100 * rate / hi, 100 * rate / lo);
  }

  /**
   * Each decode step's time, from the instants its token and the one before were chosen: the
   * median and the range, and the first step apart (it runs while the JIT is still compiling the
   * step's Java, so the mean in the decode line weighs it in).
   */
  private static void printStepTimes(long[] chosen) {
    double[] ms = new double[chosen.length - 1];
    for (int i = 1; i < chosen.length; i++) ms[i - 1] = (chosen[i] - chosen[i - 1]) / 1e6;
    double first = ms[0];
    Arrays.sort(ms);
    System.out.printf(Locale.ROOT, "decode step times: median %.1f ms, %.1f-%.1f (the first %.1f)%n", ms[ms.length / 2],
        ms[0], ms[ms.length - 1], first);
  }

  /** The process's peak resident set (Linux: VmHWM in /proc/self/status, mapped weights included), or null. */
  static String peakRss() {
    try {
      for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
        if (!line.startsWith("VmHWM:")) continue;
        long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
        return String.format(Locale.ROOT, "%.2f GB", kb * 1024 / 1e9);
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux: nothing to report
    }
    return null;
  }

  /** One sequence of {@code --embeds}; {@code positions} its position_ids [C][n], or null for 0, 1, ... */
  record Input(Tensor tensor, int n, Integer prefix, Integer visual, int[][] positions) {}

  static List<Input> readEmbedsFile(Path file, Geometry g) throws Exception {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      TensorInfo t = f.tensors().get("embeds");
      if (t == null) throw new IllegalArgumentException("--embeds: " + file + " has no tensor 'embeds' (it has "
          + f.tensors().keySet() + ")");
      if (t.dtype() != DType.F32 && t.dtype() != DType.F64)
        throw new IllegalArgumentException("--embeds: tensor 'embeds' must be F32 or F64, got " + t.dtype());
      if (t.shape().length != 2 || t.shape()[1] != g.hidden() || t.shape()[0] < 1)
        throw new IllegalArgumentException("--embeds: tensor 'embeds' must have shape [n, " + g.hidden() + "], got "
            + t.shapeString());
      FloatBuffer fb = f.floats("embeds");
      try {
        io.fitprune.kernels.Kernels.requireFinite("embeds", "[n,D]", io.fitprune.kernels.Data.of(fb), t.shape());
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
      if (B > 1) PositionIds.requireNone(f, file, "--embeds", "(no cu_seqlens)");
      if (B > MAX_REQUESTS)
        throw new IllegalArgumentException("--embeds " + file + ": tensor 'cu_seqlens' holds " + B + " sequences, more than the "
            + MAX_REQUESTS + " requests one batch takes");
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
        if (spans != null && (spans[2 * b] < 0 || spans[2 * b + 1] < 0 || spans[2 * b] > len || spans[2 * b + 1] > len - spans[2 * b]))
          throw new IllegalArgumentException("--embeds " + file + ": tensor 'spans' [" + b + "] = (" + spans[2 * b] + ", "
              + spans[2 * b + 1] + "): need 0 <= prefix, 0 <= visual, prefix + visual <= the sequence's " + len + " rows");
        Integer pre = spans == null ? null : (int) spans[2 * b];
        Integer vis = spans == null ? null : (int) spans[2 * b + 1];
        out.add(new Input(rows, len, pre, vis, B == 1 ? PositionIds.read(f, file, "--embeds", n) : null));
      }
      if (B > 1) all.close();
      return out;
    }
  }
}
