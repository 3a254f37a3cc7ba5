package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.TorchFreeProbe;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The packages a consumer gets without libtorch (the library declares it optional) load and link
 * without it: every class initialised and every member signature resolved in a JVM whose class
 * path lacks pytorch, OpenBLAS, picocli, xchart and progressbar; {@link TorchData} is the one
 * exception, by design. (src/test/consumer runs kernels
 * and fitting on the installed artifact; this covers every class of those packages.)
 */
class TorchFreePackagesTest {
  static final List<String> TORCH_FREE = List.of("io.fitprune.kernels", "io.fitprune.pruning", "io.fitprune.fitting",
      "io.fitprune.recipe", "io.fitprune.flops", "io.fitprune.model", "io.fitprune.stats", "io.fitprune.io",
      "io.fitprune.image");

  @Test
  void loadWithoutLibtorchOrTheCliLibraries() throws Exception {
    List<String> cp = new ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String name = Path.of(e).getFileName().toString();
      if (!name.matches("(pytorch|openblas|picocli|xchart|progressbar|jline|pdfbox|VectorGraphics2D|graphics2d).*")) cp.add(e);
    }
    assertTrue(cp.size() < System.getProperty("java.class.path").split(File.pathSeparator).length, "nothing removed: " + cp);
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        String.join(File.pathSeparator, cp), TorchFreeProbe.class.getName(), Path.of("target/classes").toAbsolutePath().toString()));
    cmd.addAll(TORCH_FREE);
    cmd.add("!" + TorchData.class.getName()); // the one torch class of the kernels package, by design
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM timed out");
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("probe ok"), out);
  }
}
