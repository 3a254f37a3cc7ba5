package io.fitprune.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedCheckpointTest {
  @TempDir Path dir;

  /** Byte {@code i} of tensor {@code name}: a function of both, so any misplaced byte shows. */
  static byte expected(String name, long i) {
    return (byte) (name.hashCode() * 31 + i * 7 + (i >>> 8));
  }

  static final ShardedWriter.Source SOURCE = (e, at, dst) -> {
    for (int i = 0; i < dst.remaining(); i++) dst.put(i, expected(e.name(), at + i));
  };

  // Odd sizes; at a 1000-byte limit the first three share a shard and the 3 MiB one has its own.
  static final List<ShardedWriter.Entry> ENTRIES = List.of(
      new ShardedWriter.Entry("b.weight", DType.BF16, new long[] {3, 5}),
      new ShardedWriter.Entry("a.weight", DType.F32, new long[] {7}),
      new ShardedWriter.Entry("c.bias", DType.F16, new long[] {9}),
      new ShardedWriter.Entry("big.weight", DType.BF16, new long[] {3 << 10, 512}));

  Path written(String name, long shardBytes) throws IOException {
    Path out = dir.resolve(name);
    ShardedWriter.write(out, ENTRIES, shardBytes, Map.of("format", "pt"), SOURCE);
    return out;
  }

  static void checkContents(Checkpoint ck) throws IOException {
    assertEquals(ENTRIES.size(), ck.tensors().size());
    for (ShardedWriter.Entry e : ENTRIES) {
      TensorInfo t = ck.tensors().get(e.name());
      assertEquals(e.dtype(), t.dtype(), e.name());
      ByteBuffer b = ck.bytes(e.name());
      assertEquals(e.bytes(), b.remaining(), e.name());
      for (int i = 0; i < b.remaining(); i++)
        if (b.get(i) != expected(e.name(), i)) throw new AssertionError(e.name() + " byte " + i);
    }
  }

  @Test
  void shardsByTheSizeLimitAndOpensFromIndexOrDirectory() throws IOException {
    Path out = written("ck", 1000);
    try (Stream<Path> s = Files.list(out)) {
      assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", Checkpoint.INDEX),
          s.map(p -> p.getFileName().toString()).sorted().toList());
    }
    for (Path p : new Path[] {out, out.resolve(Checkpoint.INDEX)}) {
      try (Checkpoint ck = Checkpoint.open(p)) {
        assertEquals(2, ck.shards());
        assertTrue(ck.fileOf("big.weight").toString().endsWith("model-00002-of-00002.safetensors"));
        checkContents(ck);
      }
    }
    // A single shard when everything fits; a single file opens as a one-shard checkpoint.
    Path one = written("one", 1L << 30);
    try (Checkpoint ck = Checkpoint.open(one)) {
      assertEquals(1, ck.shards());
      checkContents(ck);
    }
    try (Checkpoint ck = Checkpoint.open(one.resolve("model-00001-of-00001.safetensors"))) {
      checkContents(ck);
    }
    // Same seedless source, same bytes: deterministic.
    assertEquals(-1L, Files.mismatch(out.resolve("model-00002-of-00002.safetensors"),
        written("again", 1000).resolve("model-00002-of-00002.safetensors")));
  }

  @Test
  void refusesToWriteIntoANonEmptyDirectoryAndLeavesNothingOnFailure() throws IOException {
    Path out = written("ck", 1000);
    String m = assertThrows(IllegalArgumentException.class,
        () -> ShardedWriter.write(out, ENTRIES, 1000, Map.of(), SOURCE)).getMessage();
    assertTrue(m.contains("not an empty directory"), m);
    Path failed = dir.resolve("failed");
    assertThrows(IllegalStateException.class, () -> ShardedWriter.write(failed, ENTRIES, 1000, Map.of(), (e, at, dst) -> {
      throw new IllegalStateException("source broke");
    }));
    assertFalse(Files.exists(failed));
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of("ck"), s.map(p -> p.getFileName().toString()).toList()); // no temporary left behind
    }
  }

  String openError(Path p) {
    return assertThrows(IOException.class, () -> Checkpoint.open(p).close()).getMessage();
  }

  @Test
  void badIndexesAreOneLineErrorsNamingTheFile() throws IOException {
    Path out = written("ck", 1000);
    Path index = out.resolve(Checkpoint.INDEX);
    String good = Files.readString(index);

    Files.writeString(index, "{\"weight_map\": {\"a.weight\": ");
    String m = openError(index);
    assertTrue(m.startsWith(index.toString()) && m.contains("not valid JSON") && !m.contains("\n"), m);

    Files.writeString(index, "{\"metadata\": {}}");
    m = openError(out);
    assertTrue(m.contains(index.toString()) && m.contains("weight_map"), m);

    Files.writeString(index, good.replace("model-00002-of-00002", "model-00009-of-00009"));
    m = openError(index);
    assertTrue(m.contains(index.toString()) && m.contains("model-00009-of-00009.safetensors") && m.contains("missing"), m);

    Files.writeString(index, good.replace("\"c.bias\"", "\"d.bias\""));
    m = openError(index);
    assertTrue(m.contains("'d.bias'") && m.contains("does not hold it"), m);

    Files.writeString(index, good.replace("model-00001-of-00002", "../escape"));
    m = openError(index);
    assertTrue(m.contains("outside"), m);

    Files.delete(index);
    Files.delete(out.resolve("model-00001-of-00002.safetensors"));
    Files.delete(out.resolve("model-00002-of-00002.safetensors"));
    m = openError(out);
    assertTrue(m.contains(out.toString()) && m.contains(Checkpoint.INDEX), m);

    // A shard that is not a safetensors file: the shard's own error.
    Path broken = written("broken", 1000);
    Files.write(broken.resolve("model-00002-of-00002.safetensors"), new byte[] {1, 2, 3});
    m = openError(broken);
    assertTrue(m.contains("model-00002-of-00002.safetensors") && m.contains("too short"), m);
  }

  @Test
  void f16ConversionRoundsToNearestEven() {
    Random r = new Random(5);
    for (int i = 0; i < 200_000; i++) {
      float x = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(40) - 26));
      float h = HalfFloats.f16ToFloat(HalfFloats.toF16(x));
      double hulp = Math.abs(x) < 0x1p-14 ? 0x1p-24 : Math.ulp(x) * 8192;
      if (Math.abs(x) < 65504) assertTrue(Math.abs(h - x) <= hulp / 2, x + " -> f16 " + h);
    }
    assertEquals(0x3c00, HalfFloats.toF16(1f));
    assertEquals(0x7c00, HalfFloats.toF16(70000f));
    assertEquals(1, HalfFloats.toF16(0x1p-24f));
    assertEquals(0x3c00, HalfFloats.toF16(1.00048828125f)); // halfway, to even
    assertEquals(0x3c02, HalfFloats.toF16(1.00146484375f)); // halfway above odd, rounds up
  }
}
