package io.fitprune.cli;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.hf.RandomQwenFolder;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.ShardedWriter;
import io.fitprune.io.StagingDirectory;
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
          + "top-level lm_head) or llama (model.layers...). Default: ${DEFAULT-VALUE}. A Qwen model folder (--vision): "
          + "visual (visual.*, model.layers.*, as published; its default) or model-visual (model.visual.*, "
          + "model.language_model.*).")
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
      + "weights with the CLIP vision tower and projector (and LLaVA-NeXT's image_newline), or a Qwen2-VL / Qwen2.5-VL "
      + "folder (config, preprocessor config, tokenizer with the chat template, generation config, the language model "
      + "and the vision tower); configs bundled for llava-tiny, llava-1.5-7b, llava-next-tiny, llava-v1.6-vicuna-7b, "
      + "qwen2-vl-tiny, qwen2.5-vl-tiny and qwen2-vl-7b.")
  boolean vision;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--samples", defaultValue = "2", paramLabel = "S", description = "Calibration samples. Default: ${DEFAULT-VALUE}.")
  int samples;

  @Override
  public Integer call() throws Exception {
    // Everything is checked before anything is written: a late failure must not leave a checkpoint behind.
    Geometry g = Geometries.resolve(model);
    if (vocab < 1) throw new IllegalArgumentException("--vocab must be >= 1, got " + vocab);
    if (layers != null && layers < 1) throw new IllegalArgumentException("--layers must be >= 1, got " + layers);
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
    long shardBytes = bytes(shardSize);
    VisionFolder visionConfig = null;
    boolean layoutGiven = spec.commandLine().getParseResult().hasMatchedOption("--layout");
    RandomCheckpoint.Layout lay = null;
    RandomQwenFolder.Layout qwenLay = null;
    if (vision) {
      if (out == null) throw new IllegalArgumentException("--vision writes a model folder: give --out DIR");
      Integer v = spec.commandLine().getParseResult().hasMatchedOption("--vocab") ? vocab : null;
      visionConfig = VisionFolder.qwen(model, g, v, layers);
      if (visionConfig != null) qwenLay = VisionFolder.qwenLayout(layout, layoutGiven);
      else visionConfig = VisionFolder.config(model, g, v, layers);
    }
    if (qwenLay == null) lay = RandomCheckpoint.Layout.parse(layout);
    int T = text != null ? text : g.textTokens();
    if (T < 0) throw new IllegalArgumentException("--text must be >= 0, got " + T);
    long n = (long) g.prefixTokens() + g.visualTokens() + T;
    if (embeds != null) CliPaths.output("--embeds", embeds);
    if (calibration != null) CliPaths.output("--calibration", calibration);
    long inputBytes = 0;
    int embedCount = 0, calibrationCount = 0;
    if (embeds != null) {
      embedCount = arrayLength("--embeds [n, D] = [" + n + ", " + g.hidden() + "]", (double) n * g.hidden());
      inputBytes += 4L * embedCount;
    }
    if (calibration != null) {
      String what = "--calibration [S, n, D] = [" + samples + ", " + n + ", " + g.hidden() + "]";
      calibrationCount = arrayLength(what, (double) samples * n * g.hidden());
      inputBytes += 4L * calibrationCount;
    }
    requireOneTensor("--embeds", embedCount);
    requireOneTensor("--calibration", calibrationCount);
    MemoryCheck.require("--embeds/--calibration", 0, 8.0 * Math.max(embedCount, calibrationCount));
    long checkpointBytes = 0;
    if (out != null) {
      CheckpointBudget.requireLayers(c.layers());
      ShardedWriter.requireNewOrEmpty(out);
      checkpointBytes = CheckpointBudget.requireReadable(visionConfig != null
          ? visionConfig.entries(lay, qwenLay, dt) : RandomCheckpoint.entries(c, lay, dt, biases),
          "--out " + out);
    }
    CheckpointBudget.requireDisk("--out/--embeds/--calibration", out != null ? out : embeds != null ? embeds : calibration,
        checkpointBytes + inputBytes);

    long[] spans = {g.prefixTokens(), g.visualTokens()};
    boolean wroteCheckpoint = false;
    try {
      if (visionConfig != null) {
        visionConfig.write(out, lay, qwenLay, dt, seed, shardBytes);
        wroteCheckpoint = true;
      } else if (out != null) {
        long t0 = System.nanoTime();
        int shards = RandomCheckpoint.write(out, c, lay, dt, biases, seed, shardBytes);
        wroteCheckpoint = true;
        System.out.printf(Locale.ROOT, "wrote %s: %s (L=%d, D=%d, F=%d, vocab %d), %s, %d shard(s), %.1f s%n", out, g.name(),
            c.layers(), c.hidden(), c.mlp(), c.vocab(), dt, shards, (System.nanoTime() - t0) / 1e9);
      }
      if (embeds != null) {
        new SafetensorsWriter().putFloats("embeds", gaussian(seed + 1, embedCount), n, g.hidden())
            .putLongs("spans", spans, 2).write(embeds);
        System.out.println("wrote " + embeds + ": embeds [" + n + ", " + g.hidden() + "], spans " + java.util.Arrays.toString(spans));
      }
      if (calibration != null) {
        new SafetensorsWriter().putFloats("embeds", gaussian(seed + 2, calibrationCount), samples, n, g.hidden())
            .putLongs("spans", spans, 2).write(calibration);
        System.out.println("wrote " + calibration + ": embeds [" + samples + ", " + n + ", " + g.hidden() + "]");
      }
    } catch (Throwable e) { // all or nothing: the inputs are written atomically, the checkpoint is removed
      if (wroteCheckpoint) StagingDirectory.removeTree(out);
      throw e;
    }
    return 0;
  }

  /** The writer holds a tensor's bytes in one buffer of at most 2 GiB. */
  private static void requireOneTensor(String option, int floats) {
    if (4L * floats > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException(option + " would be " + CheckpointBudget.gib(4.0 * floats)
          + ", over the 2 GiB one tensor of a safetensors input may have");
  }

  /** {@link MemoryCheck#arrayLength} of a count computed in floating point, so no product can wrap around first. */
  private static int arrayLength(String what, double count) {
    return MemoryCheck.arrayLength(what, count > Long.MAX_VALUE ? Long.MAX_VALUE : (long) count);
  }

  /** Inputs on the scale of the embedding table (standard deviation 0.02). */
  private static float[] gaussian(long seed, int count) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[count];
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
      if (v * mult < 1) throw new IllegalArgumentException("--shard-size: '" + s + "' is less than one byte");
      return (long) (v * mult);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--shard-size: '" + s + "' is not a positive size such as 5GB or 200MB");
    }
  }
}
