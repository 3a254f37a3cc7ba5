package io.fitprune.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensors of a model checkpoint as Hugging Face stores it: one safetensors file, or shards
 * listed by a {@code model.safetensors.index.json} ({@code {"weight_map": {tensor: shard file}}},
 * shard paths relative to the index). {@link #open} takes a safetensors file, an index file, or a
 * directory holding either {@code model.safetensors.index.json} or {@code model.safetensors}.
 * Data stays memory-mapped; every inconsistency is a {@link SafetensorsException} naming the file.
 */
public final class Checkpoint implements AutoCloseable {
  public static final String INDEX = "model.safetensors.index.json", SINGLE = "model.safetensors";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final List<SafetensorsFile> files;
  private final Map<String, SafetensorsFile> owner; // tensor name -> the file holding it
  private final Map<String, TensorInfo> tensors;

  private Checkpoint(Path path, List<SafetensorsFile> files, Map<String, SafetensorsFile> owner) {
    this.path = path;
    this.files = files;
    this.owner = owner;
    Map<String, TensorInfo> t = new LinkedHashMap<>();
    owner.forEach((name, f) -> t.put(name, f.tensors().get(name)));
    this.tensors = Collections.unmodifiableMap(t);
  }

  public static Checkpoint open(Path path) throws IOException {
    if (path == null) throw new IllegalArgumentException("checkpoint path is null");
    if (Files.isDirectory(path)) {
      if (Files.exists(path.resolve(INDEX))) return openIndex(path.resolve(INDEX));
      if (Files.exists(path.resolve(SINGLE))) return openSingle(path.resolve(SINGLE));
      throw new SafetensorsException(path, "directory holds neither " + INDEX + " nor " + SINGLE);
    }
    if (path.getFileName() != null && path.getFileName().toString().endsWith(".json")) return openIndex(path);
    return openSingle(path);
  }

  private static Checkpoint openSingle(Path file) throws IOException {
    SafetensorsFile f = SafetensorsFile.open(file);
    Map<String, SafetensorsFile> owner = new LinkedHashMap<>();
    for (String name : f.tensors().keySet()) owner.put(name, f);
    return new Checkpoint(file, List.of(f), owner);
  }

  private static Checkpoint openIndex(Path index) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(InputFiles.readJson(index)); // a regular file, size-capped
    } catch (NoSuchFileException e) {
      throw new SafetensorsException(index, "no such file");
    } catch (JsonProcessingException e) {
      throw new SafetensorsException(index, "is " + InputFiles.jsonError(e));
    }
    JsonNode map = root == null ? null : root.get("weight_map");
    if (map == null || !map.isObject() || map.isEmpty())
      throw new SafetensorsException(index, "has no 'weight_map' object of tensor names to shard files");
    Path dir = index.toAbsolutePath().getParent();
    Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    Map<String, SafetensorsFile> owner = new LinkedHashMap<>();
    List<SafetensorsFile> opened = new ArrayList<>();
    try {
      for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String name = e.getKey();
        if (!e.getValue().isTextual())
          throw new SafetensorsException(index, "weight_map entry '" + name + "' is not a file name");
        String shard = e.getValue().asText();
        Path p;
        try {
          p = dir.resolve(shard).normalize();
        } catch (InvalidPathException bad) { // a NUL or other character no file name can hold
          throw new SafetensorsException(index, "weight_map entry '" + name + "' names a shard that is not a valid file name");
        }
        if (shard.isEmpty() || Path.of(shard).isAbsolute() || !p.startsWith(dir))
          throw new SafetensorsException(index, "weight_map entry '" + name + "' names shard '" + shard
              + "' outside the index's directory");
        SafetensorsFile f = shards.get(shard);
        if (f == null) {
          if (!Files.exists(p))
            throw new SafetensorsException(index, "shard '" + shard + "' (holding '" + name + "') is missing");
          if (!Files.isRegularFile(p)) // followed: a Hugging Face cache links its shards to blobs
            throw new SafetensorsException(index, "shard '" + shard + "' (holding '" + name + "') is "
                + InputFiles.kindFollowed(p) + ", not a regular file");
          f = SafetensorsFile.open(p);
          opened.add(f);
          shards.put(shard, f);
        }
        if (!f.tensors().containsKey(name))
          throw new SafetensorsException(index, "lists tensor '" + name + "' in shard '" + shard + "', which does not hold it");
        owner.put(name, f);
      }
    } catch (IOException | RuntimeException e) {
      for (SafetensorsFile f : opened) f.close();
      throw e;
    }
    return new Checkpoint(index, List.copyOf(opened), owner);
  }

  /** The file or index this checkpoint was opened from. */
  public Path path() {
    return path;
  }

  /** Every tensor, by name (for an index: the names its weight_map lists). */
  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  /** The file holding a tensor (for error messages). */
  public Path fileOf(String name) {
    SafetensorsFile f = owner.get(name);
    return f == null ? path : f.path();
  }

  /** A tensor's raw little-endian bytes, memory-mapped read-only. */
  public ByteBuffer bytes(String name) throws IOException {
    SafetensorsFile f = owner.get(name);
    if (f == null) throw new SafetensorsException(path, "has no tensor '" + name + "'");
    return f.bytes(name);
  }

  /** Shard files (one for a single-file checkpoint). */
  public int shards() {
    return files.size();
  }

  /** Closes the files; mappings already handed out stay valid. */
  @Override
  public void close() throws IOException {
    for (SafetensorsFile f : files) f.close();
  }
}
