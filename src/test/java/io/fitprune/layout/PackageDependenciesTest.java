package io.fitprune.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Which package may use which: data flows from the kernels through pruning and the decoder to fitting, not back. */
class PackageDependenciesTest {
  static final Path SRC = Path.of("src/main/java/io/fitprune");

  /** Files of {@code pkg} that mention {@code forbidden} (an import or a qualified name). */
  static List<String> uses(String pkg, String forbidden) throws IOException {
    Pattern p = Pattern.compile("\\b" + Pattern.quote(forbidden) + "\\.");
    try (Stream<Path> files = Files.list(SRC.resolve(pkg))) {
      return files.filter(f -> f.toString().endsWith(".java")).filter(f -> {
        try {
          Matcher m = p.matcher(Files.readString(f));
          return m.find();
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      }).map(f -> f.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void theDecoderKnowsNothingOfFitting() throws IOException {
    assertTrue(Files.isDirectory(SRC.resolve("decoder")), "run from the project root");
    assertEquals(List.of(), uses("decoder", "io.fitprune.fitting"));
    assertEquals(List.of(), uses("decoder", "io.fitprune.calibration"));
  }

  @Test
  void geometriesFindModelFoldersWithoutDependingOnTheirReader() throws IOException {
    assertEquals(List.of(), uses("model", "io.fitprune.hf"));
  }

  @Test
  void pruningNeedsNoLibtorch() throws IOException {
    assertEquals(List.of(), uses("pruning", "org.bytedeco.pytorch"));
    assertEquals(List.of(), uses("pruning", "io.fitprune.decoder"));
  }

  /** Image preprocessing is plain Java: a user who only prepares pixels needs neither libtorch nor the kernels. */
  @Test
  void imagePreprocessingNeedsNoLibtorchNorKernels() throws IOException {
    assertEquals(List.of(), uses("image", "org.bytedeco"));
    assertEquals(List.of(), uses("image", "io.fitprune.kernels"));
    assertEquals(List.of(), uses("image", "io.fitprune.decoder"));
  }

  @Test
  void theVisionTowerKnowsNothingOfFittingOrTheCommandLine() throws IOException {
    assertEquals(List.of(), uses("vision", "io.fitprune.fitting"));
    assertEquals(List.of(), uses("vision", "io.fitprune.calibration"));
    assertEquals(List.of(), uses("vision", "io.fitprune.cli"));
    for (String pkg : List.of("kernels", "pruning", "fitting", "recipe", "flops", "model", "stats", "io", "decoder"))
      assertEquals(List.of(), uses(pkg, "io.fitprune.vision"), pkg + " must not depend on the vision tower");
  }

  /** The LLaVA pipeline joins the model folder, images, tower and decoder; only the command line sits above it. */
  @Test
  void theLlavaPipelineSitsAboveThePiecesItJoins() throws IOException {
    assertEquals(List.of(), uses("llava", "io.fitprune.cli"));
    assertEquals(List.of(), uses("llava", "io.fitprune.fitting"));
    assertEquals(List.of(), uses("llava", "io.fitprune.calibration"));
    for (String pkg : List.of("kernels", "pruning", "fitting", "calibration", "recipe", "flops", "model", "stats", "io",
        "decoder", "hf", "image", "vision"))
      assertEquals(List.of(), uses(pkg, "io.fitprune.llava"), pkg + " must not depend on the LLaVA pipeline");
  }

  /** The configuration records are read from a model folder's config.json by code that may not have libtorch. */
  @Test
  void theVisionConfigurationRecordsNeedNoLibtorch() throws IOException {
    for (String f : List.of("ClipVisionConfig.java", "ProjectorConfig.java", "qwen/QwenVisionConfig.java",
        "qwen/QwenVisionFamily.java", "qwen/GridThw.java", "qwen/WindowIndex.java", "qwen/QwenVisionTensors.java")) {
      String src = Files.readString(SRC.resolve("vision").resolve(f));
      assertTrue(!src.contains("org.bytedeco") && !src.contains("io.fitprune.decoder"), f + " must not use libtorch");
    }
  }
}
