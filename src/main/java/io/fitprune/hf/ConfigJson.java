package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.InputFiles;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * One JSON object of a model folder's files with transformers' defaults for the keys it leaves
 * out. Every error is one line naming the file ({@code where}) and the key. Public so that the
 * parsers of configs nested in a model's {@code config.json} (a vision tower's, in its own
 * package) read them by the same rules.
 */
public final class ConfigJson {
  static final ObjectMapper JSON = new ObjectMapper();

  final ObjectNode node;
  final String where;

  ConfigJson(ObjectNode node, String where) {
    this.node = node;
    this.where = where;
  }

  /** The file and the path of keys to this object, as errors name it. */
  public String where() {
    return where;
  }

  /** Reads and parses {@code file}; a missing file, bad JSON or a non-object is an error naming it. */
  public static ConfigJson read(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = InputFiles.readJson(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(file + ": no such file");
    }
    return parse(bytes, file.toString());
  }

  public static ConfigJson parse(byte[] bytes, String where) {
    return new ConfigJson(InputFiles.parseObject(JSON, bytes, where), where);
  }

  /** {@code o} pretty-printed with its keys in order, as transformers writes its config files. */
  static byte[] sortedBytes(ObjectNode o) throws IOException {
    Map<String, JsonNode> sorted = new TreeMap<>();
    o.fields().forEachRemaining(e -> sorted.put(e.getKey(), e.getValue()));
    ObjectNode out = JSON.createObjectNode();
    sorted.forEach(out::set);
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(out);
  }

  /** The nested object {@code key}, or an empty one when absent or null (every key then takes its default). */
  public ConfigJson object(String key) {
    JsonNode n = node.get(key);
    if (n == null || n.isNull()) return new ConfigJson(JSON.createObjectNode(), where + " " + key);
    if (!n.isObject()) throw error(key, "must be an object, got " + n);
    return new ConfigJson((ObjectNode) n, where + " " + key);
  }

  public boolean has(String key) {
    JsonNode n = node.get(key);
    return n != null && !n.isNull();
  }

  public int integer(String key, int dflt) {
    if (!has(key)) return dflt;
    JsonNode n = node.get(key);
    if (!n.isIntegralNumber() || !n.canConvertToInt()) throw error(key, "must be an integer, got " + n);
    return n.intValue();
  }

  public double number(String key, double dflt) {
    if (!has(key)) return dflt;
    JsonNode n = node.get(key);
    if (!n.isNumber() || !Double.isFinite(n.doubleValue())) throw error(key, "must be a finite number, got " + n);
    return n.doubleValue();
  }

  public String string(String key, String dflt) {
    if (!has(key)) return dflt;
    JsonNode n = node.get(key);
    if (!n.isTextual()) throw error(key, "must be a string, got " + n);
    return n.textValue();
  }

  public boolean bool(String key, boolean dflt) {
    if (!has(key)) return dflt;
    JsonNode n = node.get(key);
    if (!n.isBoolean()) throw error(key, "must be true or false, got " + n);
    return n.booleanValue();
  }

  /** A list of integers, or {@code dflt} when absent or null. */
  public int[] integers(String key, int[] dflt) {
    if (!has(key)) return dflt;
    JsonNode n = node.get(key);
    if (!n.isArray()) throw error(key, "must be a list of integers, got " + n);
    int[] out = new int[n.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode e = n.get(i);
      if (!e.isIntegralNumber() || !e.canConvertToInt()) throw error(key, "must be a list of integers, got " + n);
      out[i] = e.intValue();
    }
    return out;
  }

  /** {@code _name_or_path}'s last segment, or null when there is none. */
  String nameOrPath() {
    String name = string("_name_or_path", null);
    if (name == null) return null;
    name = name.replaceAll("/+$", "");
    name = name.substring(name.lastIndexOf('/') + 1);
    return name.isBlank() ? null : name;
  }

  /** A deep copy of the object. */
  public ObjectNode json() {
    return node.deepCopy();
  }

  public IllegalArgumentException error(String key, String what) {
    return new IllegalArgumentException(where + ": '" + key + "' " + what);
  }

  public IllegalArgumentException error(String what) {
    return new IllegalArgumentException(where + ": " + what);
  }
}
