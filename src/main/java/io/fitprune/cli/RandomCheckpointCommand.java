package io.fitprune.cli;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** A seeded random checkpoint of a model's geometry in the Hugging Face layout, plus matching random inputs. */
@Command(name = "random-checkpoint", mixinStandardHelpOptions = true,
    description = {"Write a seeded random checkpoint of a model's decoder geometry as Hugging Face writes one: "
        + "sharded safetensors and model.safetensors.index.json, streamed to disk (the model is never in memory), "
        + "built in a temporary directory and renamed into place.",
        "Optionally also random input embeddings (for prefill) and calibration embeddings (for fit)."})
final class RandomCheckpointCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL", description = "Model file (models/X.json) or bundled model name.")
  String model;

  @Option(names = "--out", paramLabel = "DIR", description = "Checkpoint directory to create (must not exist, or be empty); "
      + "without it only the inputs asked for are written.")
  Path out;

  @Option(names = "--vocab", defaultValue = "32064", description = "Vocabulary size. Default: ${DEFAULT-VALUE} (LLaVA-1.5).")
  int vocab;

  @Option(names = "--layers", paramLabel = "L", description = "Decoder layers (default: the model's).")
  Integer layers;

  @Option(names = "--dtype", defaultValue = "bf16", description = "bf16, f16 or f32. Default: ${DEFAULT-VALUE}.")
  String dtype;

  @Option(names = "--layout", defaultValue = "llava-hf",
      description = "Tensor names: llava-hf (language_model.model.layers...), llava (model.language_model.layers..., "
          + "top-level lm_head) or llama (model.layers...). Default: ${DEFAULT-VALUE}.")
  String layout;

  @Option(names = "--biases", description = "Add q/k/v projection biases (Qwen2-family).")
  boolean biases;

  @Option(names = "--shard-size", defaultValue = "5GB", paramLabel = "SIZE",
      description = "Largest shard, e.g. 5GB, 200MB, 10MiB (Hugging Face's default: 5GB). Default: ${DEFAULT-VALUE}.")
  String shardSize;

  @Option(names = "--seed", defaultValue = "1", description = "Random seed. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--embeds", paramLabel = "E.safetensors",
      description = "Also write random input embeddings 'embeds' [n, D] (float32) with 'spans' = [prefix, visual], "
          + "n = the model's prefix + visual tokens + --text.")
  Path embeds;

  @Option(names = "--calibration", paramLabel = "C.safetensors",
      description = "Also write --samples random calibration inputs 'embeds' [S, n, D] with 'spans'.")
  Path calibration;

  @Option(names = "--text", paramLabel = "T", description = "Text tokens after the image in the inputs (default: the model's textTokens).")
  Integer text;

  @Option(names = "--vision", description = "Write a complete Hugging Face LLaVA model folder: config.json, "
      + "preprocessor_config.json, processor_config.json, tokenizer.json with its config and chat template, and the "
      + "weights with the CLIP vision tower and projector (configs bundled for llava-tiny and llava-1.5-7b).")
  boolean vision;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--samples", defaultValue = "2", paramLabel = "S", description = "Calibration samples. Default: ${DEFAULT-VALUE}.")
  int samples;

  @Override
  public Integer call() throws Exception {
    Geometry g = Geometries.resolve(model);
    DecoderConfig c = DecoderConfig.of(g, vocab, 10000.0, 1e-5);
    if (layers != null) c = c.withLayers(layers);
    DType dt = switch (dtype.toLowerCase(Locale.ROOT)) {
      case "bf16", "bfloat16" -> DType.BF16;
      case "f16", "fp16", "float16" -> DType.F16;
      case "f32", "fp32", "float32" -> DType.F32;
      default -> throw new IllegalArgumentException("--dtype must be bf16, f16 or f32, got " + dtype);
    };
    if (samples < 1) throw new IllegalArgumentException("--samples must be >= 1, got " + samples);
    if (out == null && embeds == null && calibration == null)
      throw new IllegalArgumentException("nothing to write: give --out, --embeds or --calibration");
    RandomCheckpoint.Layout lay = RandomCheckpoint.Layout.parse(layout);
    long shardBytes = bytes(shardSize);
    if (vision) {
      Integer v = spec.commandLine().getParseResult().hasMatchedOption("--vocab") ? vocab : null;
      VisionFolder.write(out, VisionFolder.config(model, g, v, layers), lay, dt, seed, shardBytes);
    } else if (out != null) {
      long t0 = System.nanoTime();
      int shards = RandomCheckpoint.write(out, c, lay, dt, biases, seed, shardBytes);
      System.out.printf(Locale.ROOT, "wrote %s: %s (L=%d, D=%d, F=%d, vocab %d), %s, %d shard(s), %.1f s%n", out, g.name(),
          c.layers(), c.hidden(), c.mlp(), c.vocab(), dt, shards, (System.nanoTime() - t0) / 1e9);
    }
    int T = text != null ? text : g.textTokens();
    if (T < 0) throw new IllegalArgumentException("--text must be >= 0, got " + T);
    int n = g.prefixTokens() + g.visualTokens() + T;
    long[] spans = {g.prefixTokens(), g.visualTokens()};
    if (embeds != null) {
      new SafetensorsWriter().putFloats("embeds", gaussian(seed + 1, (long) n * g.hidden()), n, g.hidden())
          .putLongs("spans", spans, 2).write(embeds);
      System.out.println("wrote " + embeds + ": embeds [" + n + ", " + g.hidden() + "], spans " + java.util.Arrays.toString(spans));
    }
    if (calibration != null) {
      new SafetensorsWriter().putFloats("embeds", gaussian(seed + 2, (long) samples * n * g.hidden()), samples, n, g.hidden())
          .putLongs("spans", spans, 2).write(calibration);
      System.out.println("wrote " + calibration + ": embeds [" + samples + ", " + n + ", " + g.hidden() + "]");
    }
    return 0;
  }

  /** Inputs on the scale of the embedding table (standard deviation 0.02). */
  private static float[] gaussian(long seed, long count) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[Math.toIntExact(count)];
    for (int i = 0; i < a.length; i++) a[i] = (float) (0.02 * gaussian(r));
    return a;
  }

  private static double gaussian(SplittableRandom r) { // Box-Muller, one value per call
    double u = 1 - r.nextDouble(), v = r.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** "5GB" = 5e9 bytes (decimal, as Hugging Face counts), "10MiB" = 10 * 2^20; a bare number is bytes. */
  static long bytes(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT);
    String[][] units = {{"KIB", "1024"}, {"MIB", "1048576"}, {"GIB", "1073741824"}, {"KB", "1000"}, {"MB", "1000000"},
        {"GB", "1000000000"}, {"B", "1"}};
    long mult = 1;
    for (String[] u : units) {
      if (t.endsWith(u[0])) {
        mult = Long.parseLong(u[1]);
        t = t.substring(0, t.length() - u[0].length()).trim();
        break;
      }
    }
    try {
      double v = Double.parseDouble(t);
      if (!(v > 0) || v * mult > Long.MAX_VALUE) throw new NumberFormatException();
      return (long) (v * mult);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--shard-size: '" + s + "' is not a positive size such as 5GB or 200MB");
    }
  }
}
