package io.fitprune.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path dir;

  /** A file with the given header text and data bytes, laid out as the format says. */
  Path raw(String header, int dataBytes) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    Path p = dir.resolve("t" + System.nanoTime() + ".safetensors");
    Files.write(p, b.array());
    return p;
  }

  @Test
  void roundTrip() throws IOException {
    float[] q = {1.5f, -2f, 3.25f, 0f, 7f, 8f};
    Path p = dir.resolve("x.safetensors");
    new SafetensorsWriter().putFloats("q", q, 2, 3).putLongs("keep", new long[] {0, 2, 5}, 3)
        .putInts("pos", new int[] {4, 5}, 2).metadata("note", "hi").write(p);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertArrayEquals(q, f.readFloats("q"));
      assertArrayEquals(new long[] {0, 2, 5}, f.readLongs("keep"));
      assertArrayEquals(new long[] {4, 5}, f.readLongs("pos"));
      assertEquals("hi", f.metadata().get("note"));
      assertArrayEquals(new long[] {2, 3}, f.require("q", DType.F32, 2, -1).shape());
      assertTrue(f.floats("q").isDirect(), "memory-mapped");
    }
    // The header is padded so the data section starts 8-byte aligned, as safetensors writes it.
    ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(0, head.getLong(0) % 8);
  }

  @Test
  void readsWhatPythonWrites() throws IOException {
    // Byte layout of safetensors.numpy.save_file({"a": np.array([1, 2], dtype=np.float32)}).
    Path p = raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0);
    byte[] all = Files.readAllBytes(p);
    byte[] withData = Arrays.copyOf(all, all.length + 8);
    ByteBuffer.wrap(withData, all.length, 8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).putFloat(2f);
    Files.write(p, withData);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertArrayEquals(new float[] {1f, 2f}, f.readFloats("a"));
    }
  }

  void rejects(Path p, String fragment) {
    SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p).close());
    assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    assertTrue(e.getMessage().startsWith(p.toString()), "names the file");
  }

  @Test
  void rejectsMalformedFiles() throws IOException {
    Path tiny = dir.resolve("tiny");
    Files.write(tiny, new byte[3]);
    rejects(tiny, "too short");
    rejects(raw("{\"a\":1", 0), "not valid JSON");
    rejects(raw("[1,2]", 0), "not a JSON object");
    rejects(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "outside the data section");
    rejects(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12 bytes");
    rejects(raw("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype Q4");
    rejects(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "invalid shape");
    rejects(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "invalid data_offsets");
    rejects(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap");
    Path hugeHeader = dir.resolve("huge");
    Files.write(hugeHeader, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
    rejects(hugeHeader, "header length");
    Path truncated = dir.resolve("trunc.safetensors");
    new SafetensorsWriter().putFloats("q", new float[100], 100).write(truncated);
    byte[] bytes = Files.readAllBytes(truncated);
    Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 10));
    rejects(truncated, "outside the data section");
    rejects(dir.resolve("missing.safetensors"), "no such file");
  }

  @Test
  void requireNamesWhatIsWrong() throws IOException {
    Path p = dir.resolve("y.safetensors");
    new SafetensorsWriter().putLongs("i", new long[] {1}, 1).putFloats("f", new float[6], 2, 3).write(p);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertTrue(assertThrows(SafetensorsException.class, () -> f.require("i", DType.F32)).getMessage().contains("must be F32, got I64"));
      assertTrue(assertThrows(SafetensorsException.class, () -> f.require("f", DType.F32, 3, 2)).getMessage().contains("must have shape [3, 2], got [2, 3]"));
      assertTrue(assertThrows(SafetensorsException.class, () -> f.require("zz", DType.F32)).getMessage().contains("has no tensor 'zz'"));
    }
  }

  @Test
  void writesAtomically() throws IOException {
    Path p = dir.resolve("z.safetensors");
    new SafetensorsWriter().putFloats("a", new float[] {1}, 1).write(p);
    new SafetensorsWriter().putFloats("a", new float[] {2, 3}, 2).write(p);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertArrayEquals(new float[] {2, 3}, f.readFloats("a"));
    }
    try (var files = Files.list(dir)) {
      assertEquals(1, files.count(), "no temporary files left behind");
    }
    assertThrows(IllegalArgumentException.class, () -> new SafetensorsWriter().putFloats("a", new float[5], 2, 3));
  }
}
