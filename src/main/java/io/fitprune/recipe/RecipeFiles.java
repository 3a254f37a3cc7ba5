package io.fitprune.recipe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.AtomicFiles;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and writes recipe JSON. Writing is atomic (temporary file, then rename). */
public final class RecipeFiles {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private RecipeFiles() {}

  public static void write(Path path, Recipe r) throws IOException {
    AtomicFiles.writeString(path, toJson(r) + "\n");
  }

  public static String toJson(Recipe r) {
    ObjectNode o = JSON.createObjectNode();
    o.put("version", r.version());
    o.put("model", r.model());
    o.put("layers", r.layers());
    o.put("visualTokens", r.visualTokens());
    o.put("budget", r.budget());
    o.put("scope", r.scope());
    o.put("mode", r.mode());
    o.put("alpha", r.alpha());
    ArrayNode p = o.putArray("prune");
    for (int x : r.prune()) p.add(x);
    ObjectNode cost = o.putObject("cost");
    cost(cost.putObject("full"), r.full());
    cost(cost.putObject("paper"), r.paper());
    o.put("calibrationSamples", r.calibrationSamples());
    try {
      return JSON.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void cost(ObjectNode o, Recipe.CostEntry c) {
    // Costs are integers far below 2^53; writing them as longs keeps files readable.
    o.put("baseline", Math.round(c.baseline()));
    o.put("pruned", Math.round(c.pruned()));
    o.put("reduction", c.reduction());
    o.put("scoreOverhead", Math.round(c.scoreOverhead()));
    if (c.prefixTokens() > 0 || c.textTokens() > 0) {
      o.put("prefixTokens", c.prefixTokens());
      o.put("textTokens", c.textTokens());
    }
  }

  /** Reads a recipe, checking its structure; use {@link #read(Path, Geometry)} to check it against a model too. */
  public static Recipe read(Path path) throws IOException {
    String where = path.toString();
    JsonNode root;
    try {
      root = JSON.readTree(io.fitprune.io.InputFiles.readJson(path));
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(where + ": no such recipe file");
    } catch (JsonProcessingException e) { // never the parser's message: it quotes the file's text
      throw new IllegalArgumentException(where + ": " + io.fitprune.io.InputFiles.jsonError(e));
    }
    if (root == null || !root.isObject()) throw new IllegalArgumentException(where + ": a recipe must be a JSON object");
    int version = integer(root, "version", where);
    if (version != Recipe.VERSION)
      throw new IllegalArgumentException(where + ": recipe version " + version + " is not supported (this build reads "
          + Recipe.VERSION + ")");
    JsonNode prune = field(root, "prune", where);
    if (!prune.isArray()) throw new IllegalArgumentException(where + ": field 'prune' must be an array of integers");
    int[] counts = new int[prune.size()];
    for (int i = 0; i < counts.length; i++) {
      JsonNode x = prune.get(i);
      if (!x.isIntegralNumber() || !x.canConvertToInt())
        throw new IllegalArgumentException(where + ": prune[" + i + "] must be an integer, got " + x);
      counts[i] = x.intValue();
    }
    JsonNode cost = field(root, "cost", where);
    try {
      return construct(root, version, counts, cost, where);
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith(where)) throw e;
      throw new IllegalArgumentException(where + ": " + e.getMessage());
    }
  }

  private static Recipe construct(JsonNode root, int version, int[] counts, JsonNode cost, String where) {
    return new Recipe(version, text(root, "model", where), integer(root, "layers", where),
        integer(root, "visualTokens", where), number(root, "budget", where), text(root, "scope", where),
        text(root, "mode", where), number(root, "alpha", where), counts,
        costEntry(field(cost, "full", where + " cost"), where + " cost.full"),
        costEntry(field(cost, "paper", where + " cost"), where + " cost.paper"),
        integer(root, "calibrationSamples", where));
  }

  /** Reads and validates against {@code g}: sizes, counts and the stored costs recomputed from the counts. */
  public static Recipe read(Path path, Geometry g) throws IOException {
    Recipe r = read(path);
    r.validate(g, path.toString());
    return r;
  }

  private static Recipe.CostEntry costEntry(JsonNode o, String where) {
    return new Recipe.CostEntry(number(o, "baseline", where), number(o, "pruned", where), number(o, "reduction", where),
        number(o, "scoreOverhead", where), o.has("prefixTokens") ? integer(o, "prefixTokens", where) : 0,
        o.has("textTokens") ? integer(o, "textTokens", where) : 0);
  }

  private static JsonNode field(JsonNode o, String name, String where) {
    JsonNode n = o.get(name);
    if (n == null || n.isNull()) throw new IllegalArgumentException(where + ": missing field '" + name + "'");
    return n;
  }

  private static int integer(JsonNode o, String name, String where) {
    JsonNode n = field(o, name, where);
    if (!n.isIntegralNumber() || !n.canConvertToInt())
      throw new IllegalArgumentException(where + ": field '" + name + "' must be an integer, got " + n);
    return n.intValue();
  }

  private static double number(JsonNode o, String name, String where) {
    JsonNode n = field(o, name, where);
    if (!n.isNumber() || !Double.isFinite(n.doubleValue()))
      throw new IllegalArgumentException(where + ": field '" + name + "' must be a finite number, got " + n);
    return n.doubleValue();
  }

  private static String text(JsonNode o, String name, String where) {
    JsonNode n = field(o, name, where);
    if (!n.isTextual()) throw new IllegalArgumentException(where + ": field '" + name + "' must be a string, got " + n);
    return n.asText();
  }
}
