package io.fitprune.image;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.InputFiles;
import java.util.HashSet;
import java.util.Set;

/**
 * The typed reads of a {@code preprocessor_config.json}'s keys that every processor config here
 * shares; each error names the key and the value found (the caller adds the file).
 */
final class ConfigKeys {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ConfigKeys() {}

  /** The JSON object of a config file's bytes; a parse error or a non-object names {@code where}. */
  static JsonNode parseObject(byte[] json, String where) {
    return InputFiles.parseObject(JSON, json, where);
  }

  /** A JSON object parsed by {@code fromJson}; a wrong value's message is prefixed with {@code where}. */
  static <T> T parse(byte[] json, String where, java.util.function.Function<JsonNode, T> fromJson) {
    JsonNode root = parseObject(json, where);
    try {
      return fromJson.apply(root);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage());
    }
  }

  static ObjectNode newObject() {
    return JSON.createObjectNode();
  }

  /** A config object as transformers writes one: pretty-printed JSON. */
  static byte[] pretty(ObjectNode o) {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("an in-memory JSON tree could not be written", e);
    }
  }

  static Set<String> keys(JsonNode o) {
    Set<String> s = new HashSet<>();
    o.fieldNames().forEachRemaining(s::add);
    return s;
  }

  static int intValue(JsonNode n, String key) {
    if (n == null || !n.canConvertToInt() || !n.isIntegralNumber())
      throw new IllegalArgumentException(key + " must be an integer, got " + n);
    return n.asInt();
  }

  static long longValue(JsonNode n, String key) {
    if (n == null || !n.canConvertToLong() || !n.isIntegralNumber())
      throw new IllegalArgumentException(key + " must be an integer, got " + n);
    return n.asLong();
  }

  static boolean bool(JsonNode root, String key, boolean dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) return dflt;
    if (!n.isBoolean()) throw new IllegalArgumentException(key + " must be true or false, got " + n);
    return n.asBoolean();
  }

  static double number(JsonNode root, String key, double dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) return dflt;
    if (!n.isNumber()) throw new IllegalArgumentException(key + " must be a number, got " + n);
    return n.asDouble();
  }

  /** A float for every channel, or a list of three (transformers' normalize accepts either). */
  static double[] perChannel(JsonNode root, String key, double[] dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) return dflt;
    if (n.isNumber()) return new double[] {n.asDouble(), n.asDouble(), n.asDouble()};
    if (!n.isArray() || n.size() != 3)
      throw new IllegalArgumentException(key + " must be a number or a list of 3 numbers (R, G, B), got " + n);
    double[] v = new double[3];
    for (int i = 0; i < 3; i++) {
      if (!n.get(i).isNumber()) throw new IllegalArgumentException(key + "[" + i + "] must be a number, got " + n.get(i));
      v[i] = n.get(i).asDouble();
    }
    return v;
  }

  /** {@code resample}: PIL's filter number, the default when absent. */
  static Resampling resample(JsonNode root, Resampling dflt) {
    JsonNode n = root.get("resample");
    return n == null || n.isNull() ? dflt : Resampling.fromPil(intValue(n, "resample"));
  }

  /** Three finite channel values ({@code nonZero}: none that is zero in float32, for a divisor). */
  static double[] channels(String key, double[] v, boolean nonZero) {
    if (v == null || v.length != 3)
      throw new IllegalArgumentException(key + " must have 3 values (R, G, B), got " + (v == null ? "null" : v.length));
    for (double x : v) {
      if (!Double.isFinite(x) || (nonZero && (float) x == 0))
        throw new IllegalArgumentException(key + " must be finite" + (nonZero ? " and non-zero" : "") + ", got "
            + java.util.Arrays.toString(v));
    }
    return v.clone();
  }

  /** A rescale factor the float64 product can use. */
  static void rescaleFactor(double f) {
    if (!Double.isFinite(f) || f == 0)
      throw new IllegalArgumentException("rescale_factor must be a finite non-zero number, got " + f);
  }
}
