package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * random-checkpoint and sharded checkpoints used as a hostile user would: every refusal is one
 * line naming the option and what is wrong, comes before anything is written, and leaves nothing behind.
 */
class HostileCheckpointCliTest {
  @TempDir Path dir;

  Path geometry() throws Exception {
    Path f = dir.resolve("tiny.json");
    Files.writeString(f, "{\"name\": \"tiny\", \"layers\": 2, \"hidden\": 32, \"heads\": 2, \"kvHeads\": 1, "
        + "\"headDim\": 16, \"mlp\": 48, \"visualTokens\": 7, \"prefixTokens\": 2, \"textTokens\": 3}");
    return f;
  }

  static void refused(CliRun.Result r, String... parts) {
    assertNotEquals(0, r.code(), r.out());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    for (String p : parts) assertTrue(r.err().contains(p), "expected '" + p + "' in: " + r.err());
  }

  /** Everything in the test's folder but the geometry file. */
  List<String> leftovers() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("tiny.json")).sorted().toList();
    }
  }

  @Test
  void aBadLaterInputWritesNothing() throws Exception {
    String model = geometry().toString(), ck = dir.resolve("ck").toString();
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--embeds",
        dir.resolve("e.safetensors").toString(), "--text", "-1"), "--text must be >= 0, got -1");
    Files.createDirectory(dir.resolve("adir"));
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--embeds",
        dir.resolve("adir").toString()), "--embeds", "a directory");
    Files.createSymbolicLink(dir.resolve("link"), dir.resolve("elsewhere"));
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--calibration",
        dir.resolve("link").toString()), "--calibration", "a symbolic link");
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--calibration",
        dir.resolve("c.safetensors").toString(), "--samples", "2000000000"), "--calibration [S, n, D]");
    assertEquals(List.of("adir", "link"), leftovers());
  }

  @Test
  void sizesTheReaderOrTheMachineCannotTakeAreRefusedUpFront() throws Exception {
    String model = geometry().toString(), ck = dir.resolve("ck").toString();
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--layers", "1048576"),
        "--layers 1048576", "MiB its reader takes");
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--layers", "30000"),
        "--layers 30000", "MiB its reader takes");
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "2000000000", "--out", ck),
        "--out " + ck, "over the 2 GiB a tensor may have");
    refused(CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck, "--shard-size", "0.5"),
        "--shard-size: '0.5' is less than one byte");
    // A folder that cannot be made: the error names --out, never the staging folder's name.
    Files.writeString(dir.resolve("plain"), "x");
    CliRun.Result r = CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out",
        dir.resolve("plain").resolve("ck").toString());
    refused(r, "--out " + dir.resolve("plain").resolve("ck"), "cannot be written", "is not a directory");
    assertFalse(r.err().contains(".tmp"), r.err());
    Files.delete(dir.resolve("plain"));
    assertEquals(List.of(), leftovers());
  }

  @Test
  void anAbandonedStagingFolderIsRemovedByTheNextRun() throws Exception {
    String model = geometry().toString();
    Path ck = dir.resolve("ck");
    // A run killed with kill -9 (its PID no longer runs) and one still running (this JVM's parent, say).
    long gone = ProcessHandle.current().pid() + 1_000_000_000L;
    Path dead = Files.createDirectory(dir.resolve(".ck.tmp-" + gone + "-1"));
    Files.write(dead.resolve("model-00001-of-00001.safetensors"), new byte[1000]);
    long alive = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);
    Path live = Files.createDirectory(dir.resolve(".ck.tmp-" + alive + "-2"));
    CliRun.Result r = CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck.toString());
    assertEquals(0, r.code(), r.err());
    assertFalse(Files.exists(dead));
    assertTrue(Files.isDirectory(live));
    assertTrue(Files.isRegularFile(ck.resolve(Checkpoint.INDEX)));
  }

  @Test
  void sigtermMidWriteLeavesNoStagingFolder() throws Exception {
    Path model = dir.resolve("wide.json"), ck = dir.resolve("ck");
    Files.writeString(model, "{\"name\": \"wide\", \"layers\": 24, \"hidden\": 1024, \"heads\": 8, \"kvHeads\": 8, "
        + "\"headDim\": 128, \"mlp\": 4096, \"visualTokens\": 7, \"prefixTokens\": 2, \"textTokens\": 3}");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "random-checkpoint", "--model", model.toString(),
        "--vocab", "1000", "--out", ck.toString()).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
    try {
      long deadline = System.nanoTime() + 120_000_000_000L;
      while (stagingFolders().isEmpty() && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
      assertTrue(p.isAlive(), "the write (about 0.8 GB) ended before it could be interrupted");
      assertEquals(1, stagingFolders().size());
      p.destroy(); // SIGTERM
      assertEquals(143, p.waitFor(), Files.readString(dir.resolve("log")));
    } finally {
      p.destroyForcibly();
    }
    assertEquals(List.of(), stagingFolders());
    assertFalse(Files.exists(ck));
  }

  List<Path> stagingFolders() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> f.getFileName().toString().startsWith(".ck.tmp-")).toList();
    }
  }

  @Test
  void aShardThatIsNotAFileSaysWhatItIs() throws Exception {
    String model = geometry().toString();
    Path ck = dir.resolve("ck");
    assertEquals(0, CliRun.run("random-checkpoint", "--model", model, "--vocab", "20", "--out", ck.toString()).code());
    Path shard = ck.resolve("model-00001-of-00001.safetensors");
    Path emb = dir.resolve("e.safetensors");
    assertEquals(0, CliRun.run("random-checkpoint", "--model", model, "--embeds", emb.toString()).code());
    String[] prefill = {"prefill", "--model", model, "--weights", ck.toString(), "--embeds", emb.toString()};
    Files.delete(shard);
    Files.createDirectory(shard);
    refused(CliRun.run(prefill), "model-00001-of-00001.safetensors", "is a directory, not a regular file");
    Files.delete(shard);
    Files.createSymbolicLink(shard, Path.of("/dev/zero"));
    refused(CliRun.run(prefill), "model-00001-of-00001.safetensors", "a symbolic link to a character device");
    Files.delete(shard);
    // Not safetensors (a symbolic link out of the folder is followed, as the Hugging Face cache needs):
    // the error says so without echoing anything read from the file.
    Path secret = dir.resolve("secret");
    Files.writeString(secret, "root:x:0:0:root:/root:/bin/bash\n");
    Files.createSymbolicLink(shard, secret);
    CliRun.Result r = CliRun.run(prefill);
    refused(r, "is not a safetensors file (invalid header length)");
    assertFalse(r.err().contains("3475222254926655346") || r.err().contains(" bytes"), r.err());
    // A shard name no file can have.
    Files.writeString(ck.resolve(Checkpoint.INDEX), "{\"weight_map\": {\"x\": \"a\\u0000b\"}}");
    refused(CliRun.run(prefill), "names a shard that is not a valid file name");
  }
}
