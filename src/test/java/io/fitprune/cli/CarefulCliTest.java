package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line as a careful Unix tool: outputs, inputs, sizes, one-line errors, --help. */
class CarefulCliTest {
  @TempDir Path dir;
  Path qkv;

  @BeforeEach
  void generate() {
    qkv = dir.resolve("qkv.safetensors");
    CliRun.Result r = CliRun.run("generate", "--out", qkv.toString(), "--tokens", "40", "--heads", "4", "--kv-heads", "2",
        "--head-dim", "8");
    assertEquals(0, r.code(), r.err());
  }

  /** Exit code, one line on stderr, and the fragments it must hold. */
  static void fails(CliRun.Result r, int code, String... fragments) {
    assertEquals(code, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    for (String f : fragments) assertTrue(r.err().contains(f), "'" + f + "' missing from: " + r.err());
  }

  CliRun.Result score(String... extra) {
    String[] base = {"score", "--qkv", qkv.toString(), "--prefix", "2", "--visual", "20", "--backend", "cpu"};
    String[] all = java.util.Arrays.copyOf(base, base.length + extra.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    return CliRun.run(all);
  }

  @Test
  void spansThatOverflowAreRefused() {
    fails(CliRun.run("score", "--qkv", qkv.toString(), "--prefix", "9223372036854775807", "--visual", "64", "--prune", "0",
        "--out", dir.resolve("o.st").toString()), 2, "--prefix/--visual", "P=9223372036854775807", "<= n (40)");
    assertFalse(Files.exists(dir.resolve("o.st")));
  }

  @Test
  void outputsNeverReplaceDevicesFifosOrLinks() throws Exception {
    // Never a real device such as /dev/null: a regression would replace it for the whole machine.
    // Our own node for the null device, where we may create one (root); the FIFO and link always.
    Path dev = dir.resolve("null-device");
    if (new ProcessBuilder("mknod", dev.toString(), "c", "1", "3").start().waitFor() == 0)
      fails(score("--out", dev.toString()), 2, "--out " + dev, "character device", "refusing");
    Path fifo = mkfifo("out.fifo");
    fails(score("--out", fifo.toString()), 2, "--out " + fifo, "FIFO");
    Path target = Files.writeString(dir.resolve("target.txt"), "keep me");
    Path link = Files.createSymbolicLink(dir.resolve("link.st"), target);
    fails(score("--out", link.toString()), 2, "--out " + link, "symbolic link");
    assertEquals("keep me", Files.readString(target));
    assertTrue(Files.isSymbolicLink(link));
    fails(score("--out", dir.toString()), 2, "--out " + dir, "directory");
  }

  @Test
  void outputsGetTheUsualModeAndLeaveNoTemporaries() throws Exception {
    Path out = dir.resolve("o.st");
    Path plain = Files.createFile(dir.resolve("plain")); // 0666 under this process's umask
    // Left by killed runs: a process that no longer exists, and one that does (this one: kept).
    long dead = 4_000_000;
    while (ProcessHandle.of(dead).isPresent()) dead++;
    Path stale = Files.writeString(dir.resolve(".o.st." + dead + ".x1.tmp"), "partial");
    Path live = Files.writeString(dir.resolve(".o.st." + ProcessHandle.current().pid() + ".x2.tmp"), "in use");
    assertEquals(0, score("--out", out.toString()).code());
    assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(out)), "the output's mode follows the umask");
    assertFalse(Files.exists(stale), "a dead process's temporary file is removed");
    assertTrue(Files.exists(live), "a running process's temporary file is left alone");
    try (var s = Files.list(dir)) {
      assertEquals(1, s.filter(p -> p.getFileName().toString().endsWith(".tmp")).count());
    }
  }

  @Test
  void aFifoInputIsRefusedInsteadOfBlocking() throws Exception {
    Path fifo = mkfifo("in.fifo");
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      fails(CliRun.run("score", "--qkv", fifo.toString(), "--prefix", "1", "--visual", "2", "--out",
          dir.resolve("o.st").toString()), 2, "--qkv " + fifo, "FIFO");
      fails(CliRun.run("flops", "--model", "llava-1.5-7b", "--recipe", fifo.toString()), 2, "--recipe " + fifo, "FIFO");
    });
    fails(CliRun.run("score", "--qkv", dir.toString(), "--prefix", "1", "--visual", "2", "--out",
        dir.resolve("o.st").toString()), 2, "--qkv " + dir, "directory");
  }

  @Test
  void hugeJsonInputsAreCappedAndContentsNeverEchoed() throws Exception {
    Path big = dir.resolve("big.json");
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(3L << 30); // sparse: 3 GiB that must not be read whole
    }
    CliRun.Result r = CliRun.run("flops", "--model", "llava-1.5-7b", "--recipe", big.toString());
    assertNotEquals(0, r.code());
    fails(r, r.code(), big.toString(), "too large for a JSON input");
    r = CliRun.run("flops", "--model", big.toString());
    fails(r, r.code(), big.toString(), "too large for a JSON input");

    Path secret = Files.writeString(dir.resolve("shadow"), "root:$6$s3cr3tHash:19000:0:99999:7:::\n");
    r = CliRun.run("flops", "--model", secret.toString());
    assertNotEquals(0, r.code());
    assertFalse(r.err().contains("s3cr3t") || r.err().contains("root"), r.err());
    assertTrue(r.err().contains("not valid JSON (line 1"), r.err());
    r = CliRun.run("flops", "--model", "llava-1.5-7b", "--recipe", secret.toString());
    assertFalse(r.err().contains("s3cr3t") || r.err().contains("root"), r.err());
  }

  @Test
  void aSparseHugeInputIsRefusedBeforeAllocating() throws Exception {
    // q [2^22, 64, 1024], k and v [2^22, 16, 1024]: 1.5 TiB of float32 in a sparse file.
    long n = 1L << 22, qBytes = n * 64 * 1024 * 4, kvBytes = n * 16 * 1024 * 4;
    String header = "{\"q\":{\"dtype\":\"F32\",\"shape\":[" + n + ",64,1024],\"data_offsets\":[0," + qBytes + "]},"
        + "\"k\":{\"dtype\":\"F32\",\"shape\":[" + n + ",16,1024],\"data_offsets\":[" + qBytes + "," + (qBytes + kvBytes) + "]},"
        + "\"v\":{\"dtype\":\"F32\",\"shape\":[" + n + ",16,1024],\"data_offsets\":[" + (qBytes + kvBytes) + ","
        + (qBytes + 2 * kvBytes) + "]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    Path sparse = dir.resolve("sparse.safetensors");
    try (RandomAccessFile f = new RandomAccessFile(sparse.toFile(), "rw")) {
      f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
      f.write(h);
      f.setLength(8 + h.length + qBytes + 2 * kvBytes);
    } catch (java.io.IOException e) {
      org.junit.jupiter.api.Assumptions.abort("this file system cannot hold a sparse 1.5 TiB file: " + e.getMessage());
    }
    try (SafetensorsFile f = SafetensorsFile.open(sparse)) {
      assertEquals(3, f.tensors().size()); // a well-formed file: only its size is absurd
    }
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> fails(CliRun.run("score", "--qkv", sparse.toString(), "--prefix",
        "0", "--visual", "64", "--backend", "cpu", "--out", dir.resolve("o.st").toString()), 2, "--qkv " + sparse));
  }

  @Test
  void nonFiniteInputsAreErrorsNamingTensorAndPosition() throws Exception {
    Path bad = dir.resolve("nan.safetensors"), out = dir.resolve("o.st");
    Random rnd = new Random(4);
    float[] q = new float[40 * 4 * 8], kv = new float[40 * 2 * 8];
    for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian();
    for (int i = 0; i < kv.length; i++) kv[i] = (float) rnd.nextGaussian();
    float[] k = kv.clone();
    k[(7 * 2 + 1) * 8 + 3] = Float.NaN;
    new SafetensorsWriter().putFloats("q", q, 40, 4, 8).putFloats("k", k, 40, 2, 8).putFloats("v", kv, 40, 2, 8).write(bad);
    fails(CliRun.run("score", "--qkv", bad.toString(), "--prefix", "2", "--visual", "20", "--prune", "5", "--backend", "cpu",
        "--out", out.toString()), 2, "--qkv " + bad, "k [n,G,d] is not finite at [7, 1, 3] (NaN)");
    assertFalse(Files.exists(out));
  }

  @Test
  void optionsAreCheckedBeforeAnythingIsCreatedAndNativeErrorsAreOneLine() {
    Path out = dir.resolve("demo-out");
    fails(CliRun.run("demo", "--hidden", "1000000", "--out", out.toString()), 2, "--hidden 1000000", "memory");
    assertFalse(Files.exists(out), "no output directory is left behind");
    fails(CliRun.run("generate", "--out", dir.resolve("g.st").toString(), "--tokens", "2000000000", "--heads", "64"), 2,
        "--tokens * --heads * --head-dim");
    // A native (libtorch) error keeps its first line only, without the C++ backtrace.
    String msg = Main.oneLine(new RuntimeException("[enforce fail] not enough memory\nException raised from alloc at x.cpp:1"
        + " (most recent call first):\nframe #0: c10::Error::Error()\nframe #1: at::empty()"));
    assertEquals("[enforce fail] not enough memory", msg);
  }

  @Test
  void everyCommandAnswersHelp() {
    CommandLine cl = new CommandLine(new Main());
    assertTrue(cl.getSubcommands().size() >= 9);
    for (String name : cl.getSubcommands().keySet()) {
      CliRun.Result r = CliRun.run(name, "--help");
      assertEquals(0, r.code(), name + " --help: " + r.err());
      assertTrue(r.out().contains("Usage:"), name + " --help printed: " + r.out());
    }
  }

  Path mkfifo(String name) throws Exception {
    Path p = dir.resolve(name);
    Process pr = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
    assertEquals(0, pr.waitFor());
    return p;
  }
}
