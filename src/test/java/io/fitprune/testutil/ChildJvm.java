package io.fitprune.testutil;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs a main class in a fresh JVM on the test classpath, for calls that could kill the JVM: a
 * crash there fails the test instead of the whole test run.
 */
public final class ChildJvm {
  private ChildJvm() {}

  /** Exit code, stdout and stderr together, and the names of any JVM fatal-error logs written. */
  public record Result(int code, String output, List<String> crashLogs) {
    /** True when the child exited normally with status 0 and wrote no fatal-error log. */
    public boolean clean() {
      return code == 0 && crashLogs.isEmpty();
    }

    public String describe() {
      return "exit " + code + (crashLogs.isEmpty() ? "" : ", crash logs " + crashLogs) + ", output:\n" + output;
    }
  }

  public static Result run(Class<?> main, long timeoutSeconds, String... args) throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("fitprune-child");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.add("-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"));
    cmd.add("-XX:-CreateCoredumpOnCrash");
    String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
    if (cache != null) cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(main.getName());
    cmd.addAll(List.of(args));
    Path log = dir.resolve("output.txt");
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    int code;
    if (p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      code = p.exitValue();
    } else {
      p.destroyForcibly().waitFor();
      code = -1;
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    List<String> crashes;
    try (Stream<Path> s = Files.list(dir)) {
      crashes = s.map(x -> x.getFileName().toString()).filter(x -> x.startsWith("hs_err")).toList();
    }
    if (crashes.isEmpty()) {
      try (Stream<Path> s = Files.list(dir)) {
        for (Path x : s.toList()) Files.delete(x);
      }
      Files.delete(dir);
    }
    return new Result(code, out, crashes);
  }
}
