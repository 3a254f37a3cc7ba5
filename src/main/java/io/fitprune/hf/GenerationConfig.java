package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The token ids a model folder's {@code generation_config.json} ends generation at: its
 * {@code eos_token_id}, one id or a list (Qwen2-VL's is {@code [<|im_end|>, <|endoftext|>]}), as
 * transformers' {@code generate} stops at any of them.
 */
public final class GenerationConfig {
  public static final String FILE = "generation_config.json";

  private GenerationConfig() {}

  /** {@code eos_token_id} of {@code dir}'s {@code generation_config.json}; none when the folder has no such file or key. */
  public static int[] eosTokenIds(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) return new int[0];
    ConfigJson c = ConfigJson.read(file);
    JsonNode n = c.node.get("eos_token_id");
    if (n == null || n.isNull()) return new int[0];
    JsonNode[] items = n.isArray() ? toArray(n) : new JsonNode[] {n};
    int[] out = new int[items.length];
    for (int i = 0; i < items.length; i++) {
      if (!items[i].isIntegralNumber() || !items[i].canConvertToInt() || items[i].intValue() < 0)
        throw c.error("eos_token_id", "must be a token id (an integer >= 0) or a list of them, got " + n);
      out[i] = items[i].intValue();
    }
    return out;
  }

  /**
   * {@code repetition_penalty} of {@code dir}'s {@code generation_config.json}, which transformers'
   * {@code generate} applies by default; 1 when the folder has no such file or key.
   */
  public static double repetitionPenalty(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) return 1;
    ConfigJson c = ConfigJson.read(file);
    double p = c.number("repetition_penalty", 1);
    if (!(p > 0)) throw c.error("repetition_penalty", "must be > 0, got " + p);
    return p;
  }

  private static JsonNode[] toArray(JsonNode arr) {
    JsonNode[] out = new JsonNode[arr.size()];
    for (int i = 0; i < out.length; i++) out[i] = arr.get(i);
    return out;
  }
}
