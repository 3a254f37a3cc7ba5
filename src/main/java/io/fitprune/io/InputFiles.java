package io.fitprune.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Checks shared by every reader of an input file: it must be a regular file (opening a FIFO blocks
 * forever, a directory fails late with a message naming no file), and files read whole (JSON) are
 * capped. Messages name the path and never quote the file's contents.
 */
public final class InputFiles {
  /** The largest JSON input (model geometries, recipes) read whole; real ones are a few KB. */
  public static final int MAX_JSON_BYTES = 16 << 20;

  private InputFiles() {}

  /** Throws {@link NoSuchFileException} or an {@link IOException} naming the path unless it is a regular file. */
  public static void requireRegular(Path path) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(path.toString(), null, "no such file");
    }
    if (!a.isRegularFile()) throw new IOException(path + ": is " + kindFollowed(path) + ", not a regular file");
  }

  /** A JSON input, read whole after the checks: a regular file of at most {@link #MAX_JSON_BYTES}. */
  public static byte[] readJson(Path path) throws IOException {
    requireRegular(path);
    try (InputStream in = Files.newInputStream(path)) {
      byte[] b = in.readNBytes(MAX_JSON_BYTES + 1); // a file that grows after the check is capped too
      if (b.length > MAX_JSON_BYTES)
        throw new IOException(path + ": is larger than " + (MAX_JSON_BYTES >> 20) + " MiB, too large for a JSON input");
      return b;
    }
  }

  /** A JSON syntax error as the place it happened only, never the offending text (it may be a secret). */
  public static String jsonError(JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    return at == null ? "not valid JSON" : "not valid JSON (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
  }

  /**
   * Parses JSON that must be one object; {@code where} names its source in errors, which say where
   * the syntax broke but never quote the text.
   */
  public static ObjectNode parseObject(ObjectMapper json, byte[] bytes, String where) {
    JsonNode root;
    try {
      root = json.readTree(bytes);
    } catch (IOException e) {
      throw new IllegalArgumentException(where + ": " + (e instanceof JsonProcessingException jpe
          ? jsonError(jpe) : "not readable as JSON"));
    }
    if (root == null || !root.isObject()) throw new IllegalArgumentException(where + ": must be a JSON object");
    return (ObjectNode) root;
  }

  /** {@link #kind} of what a path leads to: a symbolic link is named with its target's kind. */
  public static String kindFollowed(Path path) {
    if (!Files.isSymbolicLink(path)) return kind(path);
    if (!Files.exists(path)) return "a broken symbolic link";
    if (Files.isRegularFile(path)) return "a symbolic link to a regular file";
    try {
      return "a symbolic link to " + kind(path.toRealPath());
    } catch (IOException e) {
      return "a symbolic link to something else";
    }
  }

  /** What a non-regular path is, for messages: "a directory", "a FIFO", "a character device", ... */
  public static String kind(Path path) {
    if (Files.isSymbolicLink(path)) return "a symbolic link";
    if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) return "a directory";
    try {
      int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
      switch (mode & 0170000) {
        case 0010000: return "a FIFO";
        case 0020000: return "a character device";
        case 0060000: return "a block device";
        case 0140000: return "a socket";
        default: break;
      }
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      // not a POSIX file system: fall through
    }
    return "something else";
  }
}
