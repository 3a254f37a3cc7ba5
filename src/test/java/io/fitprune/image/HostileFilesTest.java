package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged files, many of them: every outcome is an image of the declared size or an
 * {@link ImageFileException} of one line naming the file; never another exception type.
 */
class HostileFilesTest {
  @TempDir Path dir;

  @Test
  void damagedPngAndJpegFailCleanly() throws IOException {
    Random rnd = new Random(2024);
    RgbImage src = ResamplerTest.random(rnd, 37, 29);
    byte[] png = Files.readAllBytes(TestImages.png(dir, "src.png", TestImages.toBuffered(src)));
    byte[] jpg = Files.readAllBytes(TestImages.jpeg(dir, "src.jpg", TestImages.toBuffered(src), 0.8f));
    int errors = 0;
    for (int trial = 0; trial < 300; trial++) {
      byte[] base = trial % 2 == 0 ? png : jpg;
      byte[] bad = base.clone();
      switch (trial % 3) {
        case 0 -> bad = Arrays.copyOf(base, rnd.nextInt(base.length));
        case 1 -> {
          for (int k = 0, n = 1 + rnd.nextInt(8); k < n; k++) bad[rnd.nextInt(bad.length)] = (byte) rnd.nextInt(256);
        }
        default -> {
          int at = rnd.nextInt(bad.length), len = Math.min(bad.length - at, 1 + rnd.nextInt(64));
          Arrays.fill(bad, at, at + len, (byte) (rnd.nextBoolean() ? 0 : 0xFF));
        }
      }
      Path p = TestImages.write(dir, "bad" + trial + (trial % 2 == 0 ? ".png" : ".jpg"), bad);
      try {
        RgbImage im = ImageFiles.loadRgb(p);
        assertEquals(im.width() * im.height() * 3, im.rgb().length);
      } catch (ImageFileException e) {
        errors++;
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
      } catch (Throwable t) {
        fail(p + " (trial " + trial + "): " + t, t);
      }
    }
    assertTrue(errors > 100, "only " + errors + " of 300 damaged files were refused");
  }
}
