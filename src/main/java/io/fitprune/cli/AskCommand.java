package io.fitprune.cli;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.Sampler;
import io.fitprune.decoder.Tensors;
import io.fitprune.decoder.TextStream;
import io.fitprune.hf.GenerationConfig;
import io.fitprune.hf.Prompt;
import io.fitprune.llava.LlavaImage;
import io.fitprune.llava.LlavaInput;
import io.fitprune.llava.LlavaPipeline;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.recipe.Recipe;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.bytedeco.pytorch.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** An image and a question in, the model's answer streamed out: the whole LLaVA path, pruned by a recipe or not. */
@Command(name = "ask", mixinStandardHelpOptions = true,
    description = {"Answer a question about an image with a LLaVA, LLaVA-NeXT, Qwen2-VL or Qwen2.5-VL model folder: the prompt through the chat template, "
        + "the image through the vision tower, a prefill pruned by --recipe (or not), then K/V-cached decoding.",
        "Streams the answer as tokens arrive, then prints one line: ask: vision V ms, prefill P ms, tokens per layer "
            + "N0,N1,..., decode D ms per token (K tokens)."})
final class AskCommand implements Callable<Integer> {
  @Mixin
  LlavaOptions llava = new LlavaOptions();

  @Option(names = "--image", required = true, paramLabel = "IMG", description = "Image file (PNG, JPEG, ...).")
  Path image;

  @Option(names = "--recipe", paramLabel = "R.json", description = "Pruning recipe for this model. Default: unpruned.")
  Path recipe;

  @Option(names = "--max-new-tokens", defaultValue = "64", paramLabel = "N", description = "Most tokens to generate; "
      + "the prompt and these must fit in the model's max_position_embeddings. Default: ${DEFAULT-VALUE}.")
  int maxNewTokens;

  @Option(names = "--temperature", defaultValue = "0", paramLabel = "T", description = "Sampling temperature; 0 decodes "
      + "greedily. Default: ${DEFAULT-VALUE}.")
  double temperature;

  @Option(names = "--top-p", defaultValue = "1", paramLabel = "P", description = "With --temperature: sample from the most "
      + "probable tokens whose probabilities add up to P, in (0, 1]. Default: ${DEFAULT-VALUE}.")
  double topP;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "With --temperature: the sampler's seed "
      + "(the same seed repeats an answer). Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--repetition-penalty", paramLabel = "R", description = "Divide the logits of the prompt's and the "
      + "answer's tokens by R (multiply where negative), as transformers' generate does; 1 turns it off. Default: the "
      + "folder's generation_config.json repetition_penalty, else 1.")
  Double repetitionPenalty;

  @Mixin
  PruningOptions pruning = new PruningOptions();

  @Override
  public Integer call() throws Exception {
    CliPaths.input("--image", image);
    CliPaths.input("--recipe", recipe);
    if (maxNewTokens < 1) throw new IllegalArgumentException("--max-new-tokens must be >= 1, got " + maxNewTokens);
    Sampler sampler = sampler();
    if (repetitionPenalty != null && !(repetitionPenalty > 0 && Double.isFinite(repetitionPenalty)))
      throw new IllegalArgumentException("--repetition-penalty must be a finite number > 0, got " + repetitionPenalty);
    pruning.noText();
    try (LlavaPipeline lp = llava.open()) {
      Geometry g = lp.folder().geometry();
      // LLaVA-NeXT's and Qwen's counts follow the image: a recipe meets it scaled unless --visual-policy says otherwise
      boolean anyres = lp.folder().perImageCounts();
      Recipe r = recipe == null ? null : pruning.read(recipe, g, anyres);
      int maxPositions = lp.folder().text().maxPositions();
      LlavaImage img = lp.image(image); // decoded and preprocessed: its size gives LLaVA-NeXT's count
      Prompt prompt = lp.prompt(llava.prompt, img); // every check before the tower runs
      int n = prompt.length(), P = prompt.prefix(), V = prompt.visual(), T = prompt.text();
      if ((long) n + maxNewTokens > maxPositions)
        throw new IllegalArgumentException("--max-new-tokens " + maxNewTokens + ": the prompt's " + n + " tokens and "
            + maxNewTokens + " new ones pass the model's max_position_embeddings " + maxPositions);
      // a per-image-count recipe is checked against the folder's model at the count it was fitted for
      Pruner pruner = r == null ? Pruner.none()
          : pruning.pruner(r, recipe.toString(), VisualCounts.at(r, g, anyres), V, "");
      double penalty = repetitionPenalty != null ? repetitionPenalty : GenerationConfig.repetitionPenalty(lp.folder().dir());
      Sampler chooser = penalty == 1 ? sampler : sampler.withRepetitionPenalty(penalty, prompt.ids());
      LlavaInput in = lp.encode(prompt, img);
      Decoder dec = new Decoder(lp.decoderWeights());
      // UTF-8 whatever the locale: an answer is any text the tokenizer decodes
      PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
      try (Tensor e = Tensors.of(in.embeds(), n, in.hidden());
          Decoder.Prefill p = dec.prefill(e, in.spans(), in.positions(), pruner, maxNewTokens)) {
        TextStream answer = lp.answerStream(s -> {
          out.print(s);
          out.flush();
        });
        long t0 = System.nanoTime();
        int[] tokens = dec.generate(p, maxNewTokens, chooser, answer::accept);
        double decodeSeconds = (System.nanoTime() - t0) / 1e9;
        answer.close();
        out.println();
        out.println(timing(in.visionSeconds(), p.seconds(), PrefillCommand.entering(P, V, T, p.visualAfter()),
            decodeSeconds, tokens.length));
      }
    }
    return 0;
  }

  private Sampler sampler() {
    if (temperature == 0) {
      if (topP != 1) throw new IllegalArgumentException("--top-p " + topP + " needs --temperature > 0 (0 decodes greedily)");
      return Sampler.greedy();
    }
    if (!(temperature > 0) || !Double.isFinite(temperature))
      throw new IllegalArgumentException("--temperature must be a finite number >= 0, got " + temperature);
    if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    return Sampler.sampling(temperature, topP, seed);
  }

  /**
   * The timing line (its form is read by checks outside the project). Decode time per token is over
   * the steps that fed a token back ({@code tokens - 1}; the first token comes from the prefill).
   */
  static String timing(double visionSec, double prefillSec, int[] entering, double decodeSec, int tokens) {
    int steps = tokens - 1;
    String perToken = steps > 0 ? String.format(Locale.ROOT, "%.1f", 1e3 * decodeSec / steps) : "n/a";
    return String.format(Locale.ROOT, "ask: vision %.1f ms, prefill %.1f ms, tokens per layer %s, decode %s ms per token "
        + "(%d tokens)", 1e3 * visionSec, 1e3 * prefillSec,
        Arrays.stream(entering).mapToObj(Integer::toString).collect(Collectors.joining(",")), perToken, tokens);
  }
}
