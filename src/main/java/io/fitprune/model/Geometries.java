package io.fitprune.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Loads geometries from {@code models/*.json} files. A model is added by adding a file; the
 * shipped ones are also bundled in the jar under {@code models/}, so a bare name works anywhere.
 */
public final class Geometries {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String BUNDLE_DIR = "models/";
  private static final Set<String> REQUIRED =
      Set.of("name", "layers", "hidden", "heads", "kvHeads", "headDim", "mlp", "visualTokens", "prefixTokens");
  /** Optional fields; textTokens defaults to a short question's length. */
  private static final Set<String> OPTIONAL = Set.of("textTokens", "description", "source");
  public static final int DEFAULT_TEXT_TOKENS = 64;

  private Geometries() {}

  /**
   * Resolves {@code spec}, in this order: a Hugging Face model folder (a directory holding
   * {@code config.json}, read by a {@link FolderGeometries}), a geometry file, the name of
   * a bundled model ({@code llava-1.5-7b} or {@code llava-1.5-7b.json}). So a folder or file of
   * that name in the working directory wins over a bundled model.
   */
  public static Geometry resolve(String spec) throws IOException {
    if (spec == null || spec.isBlank())
      throw new IllegalArgumentException("--model must name a model folder, a model file or a bundled model");
    Path p = Path.of(spec);
    if (Files.isDirectory(p)) {
      for (FolderGeometries f : ServiceLoader.load(FolderGeometries.class, Geometries.class.getClassLoader()))
        if (f.accepts(p)) return f.read(p);
    }
    if (Files.isRegularFile(p)) return load(p);
    String name = p.getFileName().toString();
    if (name.endsWith(".json")) name = name.substring(0, name.length() - 5);
    if (!spec.contains("/") || spec.startsWith(BUNDLE_DIR)) {
      try (InputStream in = Geometries.class.getClassLoader().getResourceAsStream(BUNDLE_DIR + name + ".json")) {
        if (in != null) return parse(in.readAllBytes(), "bundled model " + name, name);
      }
    }
    List<String> known = bundledNames();
    throw new IllegalArgumentException("no model folder or file '" + spec + "' and no bundled model of that name"
        + (known.isEmpty() ? "" : " (bundled: " + String.join(", ", known) + ")"));
  }

  /** Loads one geometry file; its {@code name} must match the file name so lookups by name agree. */
  public static Geometry load(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = io.fitprune.io.InputFiles.readJson(file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IllegalArgumentException(file + ": no such model file");
    }
    String stem = file.getFileName().toString().replaceFirst("\\.json$", "");
    return parse(bytes, file.toString(), stem);
  }

  /** Parses geometry JSON; {@code where} names the source in errors, {@code expectedName} (nullable) is the file stem. */
  public static Geometry parse(byte[] json, String where, String expectedName) {
    // Errors never quote the parser's message: it holds the offending text, which may be a secret (--model /etc/shadow).
    JsonNode root = io.fitprune.io.InputFiles.parseObject(JSON, json, where);
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      // Unknown fields are rejected: a typo such as "kv_heads" must not silently fall back to a default.
      if (!REQUIRED.contains(f) && !OPTIONAL.contains(f))
        throw new IllegalArgumentException(where + ": unknown field '" + f + "' (fields: " + fieldList() + ")");
    }
    for (String f : REQUIRED)
      if (!root.has(f)) throw new IllegalArgumentException(where + ": missing field '" + f + "'");
    JsonNode nameNode = root.get("name");
    if (!nameNode.isTextual()) throw new IllegalArgumentException(where + ": field 'name' must be a string");
    String name = nameNode.asText();
    if (expectedName != null && !name.equals(expectedName))
      throw new IllegalArgumentException(where + ": field 'name' is '" + name + "' but the file is named '"
          + expectedName + ".json'; they must agree so the model can be found by name");
    try {
      return new Geometry(name, integer(root, "layers", where), integer(root, "hidden", where),
          integer(root, "heads", where), integer(root, "kvHeads", where), integer(root, "headDim", where),
          integer(root, "mlp", where), integer(root, "visualTokens", where), integer(root, "prefixTokens", where),
          root.has("textTokens") ? integer(root, "textTokens", where) : DEFAULT_TEXT_TOKENS);
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith(where)) throw e;
      throw new IllegalArgumentException(where + ": " + e.getMessage());
    }
  }

  private static int integer(JsonNode root, String field, String where) {
    JsonNode n = root.get(field);
    if (!n.isIntegralNumber() || !n.canConvertToInt())
      throw new IllegalArgumentException(where + ": field '" + field + "' must be an integer, got " + n);
    return n.intValue();
  }

  private static String fieldList() {
    List<String> all = new ArrayList<>(REQUIRED);
    all.addAll(OPTIONAL);
    Collections.sort(all);
    return String.join(", ", all);
  }

  /** Names of the models bundled on the class path (best effort: empty if they cannot be listed). */
  public static List<String> bundledNames() {
    List<String> names = new ArrayList<>();
    try {
      URL probe = Geometries.class.getClassLoader().getResource(BUNDLE_DIR);
      if (probe == null) return names;
      URI uri = probe.toURI();
      if (uri.getScheme().equals("jar")) {
        FileSystem fs;
        try {
          fs = FileSystems.newFileSystem(uri, Map.of());
        } catch (java.nio.file.FileSystemAlreadyExistsException e) {
          fs = FileSystems.getFileSystem(uri);
        }
        collect(fs.getPath(BUNDLE_DIR), names);
      } else {
        collect(Path.of(uri), names);
      }
    } catch (Exception e) {
      // Listing is only for error messages; never let it hide the real error.
    }
    Collections.sort(names);
    return names;
  }

  private static void collect(Path dir, List<String> names) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
          .forEach(n -> names.add(n.substring(0, n.length() - 5)));
    }
  }
}
