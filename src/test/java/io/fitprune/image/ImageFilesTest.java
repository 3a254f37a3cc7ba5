package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFilesTest {
  @TempDir Path dir;
  final Random rnd = new Random(42);

  @Test
  void rgbPngRoundTripsExactlyAtOddSizesAndOnePixel() throws IOException {
    for (int[] wh : new int[][] {{1, 1}, {7, 3}, {3, 7}, {101, 53}}) {
      RgbImage im = ResamplerTest.random(rnd, wh[0], wh[1]);
      Path p = TestImages.png(dir, "rgb" + wh[0] + "x" + wh[1] + ".png", TestImages.toBuffered(im));
      RgbImage back = ImageFiles.loadRgb(p);
      assertEquals(im.width(), back.width());
      assertEquals(im.height(), back.height());
      assertArrayEquals(im.rgb(), back.rgb());
    }
  }

  @Test
  void grayIsReplicatedWithoutAColourTransform() throws IOException {
    BufferedImage g = new BufferedImage(9, 5, BufferedImage.TYPE_BYTE_GRAY);
    int[] v = rnd.ints(45, 0, 256).toArray();
    g.getRaster().setPixels(0, 0, 9, 5, v);
    for (Path p : new Path[] {TestImages.png(dir, "g.png", g), TestImages.jpeg(dir, "g.jpg", g, 1f)}) {
      RgbImage im = ImageFiles.loadRgb(p);
      boolean png = p.toString().endsWith(".png");
      for (int i = 0; i < 45; i++) {
        int r = im.get(i % 9, i / 9, 0);
        assertEquals(r, im.get(i % 9, i / 9, 1));
        assertEquals(r, im.get(i % 9, i / 9, 2));
        if (png) assertEquals(v[i], r, "gray PNG sample " + i); // javax's getRGB would gamma-map these
      }
    }
  }

  @Test
  void alphaIsDroppedNotComposited() throws IOException {
    BufferedImage a = new BufferedImage(6, 4, BufferedImage.TYPE_4BYTE_ABGR);
    int[] px = rnd.ints(6 * 4 * 4, 0, 256).toArray();
    a.getRaster().setPixels(0, 0, 6, 4, px);
    RgbImage im = ImageFiles.loadRgb(TestImages.png(dir, "rgba.png", a));
    for (int i = 0; i < 24; i++)
      for (int c = 0; c < 3; c++) assertEquals(px[i * 4 + c], im.get(i % 6, i / 6, c));
  }

  @Test
  void palettesAreLookedUp() throws IOException {
    byte[] r = new byte[16], g = new byte[16], b = new byte[16];
    rnd.nextBytes(r);
    rnd.nextBytes(g);
    rnd.nextBytes(b);
    IndexColorModel icm = new IndexColorModel(4, 16, r, g, b);
    BufferedImage p = new BufferedImage(11, 3, BufferedImage.TYPE_BYTE_BINARY, icm);
    WritableRaster ras = p.getRaster();
    int[] idx = rnd.ints(33, 0, 16).toArray();
    ras.setPixels(0, 0, 11, 3, idx);
    RgbImage im = ImageFiles.loadRgb(TestImages.png(dir, "pal.png", p));
    for (int i = 0; i < 33; i++) {
      assertEquals(r[idx[i]] & 0xFF, im.get(i % 11, i / 11, 0));
      assertEquals(g[idx[i]] & 0xFF, im.get(i % 11, i / 11, 1));
      assertEquals(b[idx[i]] & 0xFF, im.get(i % 11, i / 11, 2));
    }
  }

  /** PIL keeps the high byte of 16-bit RGB, RGBA and gray+alpha, and saturates 16-bit gray (I;16) at 255. */
  @Test
  void sixteenBitSamplesFollowPil() throws IOException {
    int w = 5, h = 3;
    for (int bands = 1; bands <= 4; bands++) {
      int[] s = rnd.ints(w * h * bands, 0, 65536).toArray();
      for (int i = 0; i < 4; i++) s[i] = rnd.nextInt(256); // some small gray values too
      RgbImage im = ImageFiles.loadRgb(TestImages.png(dir, "s" + bands + ".png", TestImages.sixteenBit(w, h, bands, s)));
      for (int i = 0; i < w * h; i++) {
        for (int c = 0; c < 3; c++) {
          int expected = switch (bands) {
            case 1 -> Math.min(s[i], 255);
            case 2 -> s[i * 2] >> 8;
            default -> s[i * bands + c] >> 8;
          };
          assertEquals(expected, im.get(i % w, i / w, c), bands + " bands, pixel " + i + " channel " + c);
        }
      }
    }
  }

  /**
   * Hand-built PNGs of the layouts ImageIO's writer does not produce, against Pillow's unpackers:
   * 1-bit gray is 0 or 255 (mode "1"), 2- and 4-bit gray scale by 0x55 and 0x11 (L;2, L;4), and
   * 8-bit gray+alpha keeps the gray (LA to RGB drops alpha).
   */
  @Test
  void lowBitGrayAndGrayAlphaFollowPilsUnpackers() throws IOException {
    int w = 5, h = 3;
    for (int bits : new int[] {1, 2, 4}) {
      int rowBytes = (w * bits + 7) / 8;
      byte[] raw = new byte[h * (1 + rowBytes)];
      int[] samples = new int[w * h];
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          int v = rnd.nextInt(1 << bits);
          samples[y * w + x] = v;
          int bit = x * bits; // MSB first within each byte
          raw[y * (1 + rowBytes) + 1 + bit / 8] |= (byte) (v << (8 - bits - bit % 8));
        }
      Path p = TestImages.write(dir, "gray" + bits + ".png", TestImages.pngBytes(w, h, bits, 0, raw));
      RgbImage im = ImageFiles.loadRgb(p);
      int scale = 255 / ((1 << bits) - 1);
      for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) assertEquals(samples[i] * scale, im.get(i % w, i / w, c), bits + "-bit gray " + i);
    }
    byte[] la = new byte[h * (1 + 2 * w)];
    rnd.nextBytes(la);
    for (int y = 0; y < h; y++) la[y * (1 + 2 * w)] = 0; // filter type None
    RgbImage im = ImageFiles.loadRgb(TestImages.write(dir, "la.png", TestImages.pngBytes(w, h, 8, 4, la)));
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++) assertEquals(la[y * (1 + 2 * w) + 1 + 2 * x] & 0xFF, im.get(x, y, c));
  }

  @Test
  void jpegDecodesCloseToItsSource() throws IOException {
    int w = 48, h = 32;
    byte[] b = new byte[w * h * 3];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++) b[(y * w + x) * 3 + c] = (byte) (40 + 3 * x + 2 * y + 20 * c + rnd.nextInt(3));
    RgbImage src = new RgbImage(w, h, b);
    RgbImage im = ImageFiles.loadRgb(TestImages.jpeg(dir, "smooth.jpg", TestImages.toBuffered(src), 1f));
    double err = 0;
    for (int i = 0; i < b.length; i++) err += Math.abs((b[i] & 0xFF) - (im.rgb()[i] & 0xFF));
    assertTrue(err / b.length < 4, "mean error " + err / b.length);
  }

  // ---- bad input: one line, naming the file

  static void assertOneLine(IOException e, Path file, String... words) {
    String m = e.getMessage();
    assertFalse(m.contains("\n"), m);
    assertTrue(m.startsWith(file.toString() + ": "), m);
    for (String w : words) assertTrue(m.contains(w), "'" + w + "' missing from: " + m);
  }

  Path validPng() throws IOException {
    return TestImages.png(dir, "valid.png", TestImages.toBuffered(ResamplerTest.random(rnd, 64, 48)));
  }

  @Test
  void truncatedPngIsAnError() throws IOException {
    byte[] all = Files.readAllBytes(validPng());
    for (int cut : new int[] {all.length / 2, 40, 20, 8, 3}) {
      Path p = TestImages.write(dir, "cut" + cut + ".png", Arrays.copyOf(all, cut));
      ImageFileException e = assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p));
      assertOneLine(e, p, "PNG");
    }
  }

  @Test
  void corruptPngDataIsAnError() throws IOException {
    byte[] all = Files.readAllBytes(validPng());
    byte[] bad = all.clone();
    for (int i = 60; i < bad.length - 20; i += 7) bad[i] ^= 0x5A; // scramble the compressed pixels
    Path p = TestImages.write(dir, "scrambled.png", bad);
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p)), p, "corrupt");
    byte[] header = all.clone();
    header[20] ^= 1; // a bit of the declared height: the IHDR checksum no longer matches
    Path q = TestImages.write(dir, "ihdr.png", header);
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(q)), q, "checksum");
  }

  @Test
  void truncatedAndCorruptJpegAreErrors() throws IOException {
    Path ok = TestImages.jpeg(dir, "ok.jpg", TestImages.toBuffered(ResamplerTest.random(rnd, 64, 48)), 0.9f);
    byte[] all = Files.readAllBytes(ok);
    for (int cut : new int[] {all.length - 200, all.length / 2, 30, 2}) {
      Path p = TestImages.write(dir, "cut" + cut + ".jpg", Arrays.copyOf(all, cut));
      assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p)), p, "JPEG");
    }
    byte[] bad = all.clone();
    for (int i = all.length / 2; i < all.length - 2; i += 5) bad[i] = (byte) 0xFF; // markers inside entropy data
    Path p = TestImages.write(dir, "scrambled.jpg", bad);
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p)), p, "JPEG");
  }

  @Test
  void emptySidesAndHugeSidesAreRefusedFromTheHeader() throws IOException {
    byte[] row = new byte[1 + 3];
    for (long[] wh : new long[][] {{0, 5}, {5, 0}, {100_000, 100_000}, {100_000, 1}, {1, 4_000_000_000L}}) {
      Path p = TestImages.write(dir, "ihdr" + wh[0] + "x" + wh[1] + ".png", TestImages.pngBytes(wh[0], wh[1], 8, 2, row));
      ImageFileException e = assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p));
      assertOneLine(e, p, wh[0] + " x " + wh[1]);
    }
  }

  /** 20000 x 20000 claims 400 M pixels with a 100-byte file: refused before any pixel is decoded. */
  @Test
  void decompressionBombIsRefusedBeforeDecoding() throws IOException {
    Path p = TestImages.write(dir, "bomb.png", TestImages.pngBytes(20_000, 20_000, 8, 2, new byte[1000]));
    assertTrue(Files.size(p) < 200);
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p)), p, "decompression bomb",
        String.valueOf(ImageFiles.MAX_PIXELS));
    // a caller's own limit applies the same way
    Path small = validPng();
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(small, 1000)), small, "limit of 1000");
  }

  @Test
  void cmykJpegIsRefusedByName() throws IOException {
    java.awt.image.WritableRaster cmyk = java.awt.image.Raster.createInterleavedRaster(
        java.awt.image.DataBuffer.TYPE_BYTE, 16, 8, 4, null);
    cmyk.setPixels(0, 0, 16, 8, rnd.ints(16 * 8 * 4, 0, 256).toArray());
    Path p = dir.resolve("cmyk.jpg");
    javax.imageio.ImageWriter w = javax.imageio.ImageIO.getImageWritersByFormatName("jpeg").next();
    try (javax.imageio.stream.ImageOutputStream out = javax.imageio.ImageIO.createImageOutputStream(p.toFile())) {
      w.setOutput(out);
      w.write(null, new javax.imageio.IIOImage(cmyk, null, null), null);
    } finally {
      w.dispose();
    }
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(p)), p, "CMYK");
  }

  @Test
  void notAnImageEmptyMissingAndDirectoryAreErrors() throws IOException {
    Path text = TestImages.write(dir, "notes.png", "hello, I am text".getBytes());
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(text)), text, "not a PNG or JPEG");
    Path empty = TestImages.write(dir, "empty.jpg", new byte[0]);
    assertOneLine(assertThrows(ImageFileException.class, () -> ImageFiles.loadRgb(empty)), empty, "empty");
    Path missing = dir.resolve("missing.png");
    IOException e = assertThrows(IOException.class, () -> ImageFiles.loadRgb(missing));
    assertTrue(e.getMessage().contains("missing.png"), e.getMessage());
    IOException d = assertThrows(IOException.class, () -> ImageFiles.loadRgb(dir));
    assertTrue(d.getMessage().contains("directory"), d.getMessage());
  }
}
