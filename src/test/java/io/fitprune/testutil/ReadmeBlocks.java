package io.fitprune.testutil;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/** Checks that README.md shows a test's code block (between two marker comments) exactly, as compiled and run. */
public final class ReadmeBlocks {
  private ReadmeBlocks() {}

  /** Throws unless README.md holds the block of {@code source} between {@code begin} and {@code end} as a java block. */
  public static void requireShown(String source, String begin, String end) throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    String src = Files.readString(Path.of(source));
    String shown = dedent(src.substring(src.lastIndexOf(begin) + begin.length(), src.lastIndexOf(end)));
    assertTrue(shown.lines().count() > 1, "no block between " + begin + " and " + end + " in " + source);
    assertTrue(readme.contains("```java\n" + shown + "```"),
        "README.md must show the " + begin + " block of " + source + " exactly:\n" + shown);
  }

  /** The lines without their common indentation, each ending in a newline; blank edges dropped. */
  public static String dedent(String block) {
    String[] lines = block.strip().isEmpty() ? new String[0] : block.split("\n");
    int from = 0, to = lines.length;
    while (from < to && lines[from].isBlank()) from++;
    while (to > from && lines[to - 1].isBlank()) to--;
    String[] body = Arrays.copyOfRange(lines, from, to);
    int indent = Arrays.stream(body).filter(s -> !s.isBlank()).mapToInt(s -> s.length() - s.stripLeading().length())
        .min().orElse(0);
    return Arrays.stream(body).map(s -> s.isBlank() ? "" : s.substring(indent)).collect(Collectors.joining("\n", "", "\n"));
  }
}
