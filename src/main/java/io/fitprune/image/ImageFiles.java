package io.fitprune.image;

import io.fitprune.io.InputFiles;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.FileImageInputStream;

/**
 * Reads PNG and JPEG files into 8-bit RGB the way PIL's {@code Image.open(f).convert("RGB")} does:
 * gray is replicated, alpha is dropped (not composited), palettes are looked up, 16-bit RGB and
 * gray+alpha keep their high byte, and 16-bit gray saturates at 255 (PIL's {@code I;16} to
 * {@code RGB}). Embedded colour profiles and EXIF orientation are ignored, as they are for an
 * {@code Image.open} image handed to the processor (transformers' {@code load_image}, which the
 * processors use for path and URL strings, does apply the EXIF rotation). CMYK and YCCK JPEGs are
 * refused (the JDK's decoder does not convert them).
 *
 * <p>The header is read first: an image of more than {@link #MAX_SIDE} pixels a side or more than
 * {@link #MAX_PIXELS} pixels in all is refused before any pixel is decoded. Every decoder warning
 * (a truncated or corrupt stream, which javax.imageio would otherwise fill in with gray) is an error.
 *
 * <p>JPEG is decoded by javax.imageio (the JDK's libjpeg 6b) where PIL uses libjpeg-turbo: both
 * use the accurate integer IDCT and "fancy" chroma upsampling, but their outputs can differ by a
 * few levels on some pixels of a chroma-subsampled image, so JPEG input matches PIL closely rather
 * than bit for bit. PNG decoding is lossless and exact.
 */
public final class ImageFiles {
  /** The largest side accepted, in pixels (JPEG's own limit; PNG allows more). */
  public static final int MAX_SIDE = 65_535;
  /**
   * The most pixels accepted by default: PIL's {@code Image.MAX_IMAGE_PIXELS} (PIL warns above it
   * and refuses above twice it; this refuses above it), about 256 MB of RGB.
   */
  public static final long MAX_PIXELS = 1024L * 1024 * 1024 / 4 / 3;

  private ImageFiles() {}

  /** A decoded image and the PIL mode its file would open in ({@code L}, {@code RGB}, {@code RGBA}, ...). */
  record Decoded(RgbImage image, String mode) {}

  /** The file as 8-bit RGB, under the default limits. */
  public static RgbImage loadRgb(Path file) throws IOException {
    return decode(file, MAX_PIXELS).image();
  }

  /** The file as 8-bit RGB, refusing more than {@code maxPixels} pixels (and more than {@link #MAX_SIDE} a side). */
  public static RgbImage loadRgb(Path file, long maxPixels) throws IOException {
    return decode(file, maxPixels).image();
  }

  static Decoded decode(Path file, long maxPixels) throws IOException {
    if (maxPixels < 1) throw new IllegalArgumentException("maxPixels must be at least 1, got " + maxPixels);
    InputFiles.requireRegular(file);
    ImageHeader header;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 14)) {
      header = ImageHeader.read(file, in);
    }
    checkSize(file, header, maxPixels);
    if (header.format().equals("jpeg") && header.components() == 4)
      throw new ImageFileException(file, "is a CMYK or YCCK JPEG, which is not supported; convert it to RGB first");
    Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(header.format());
    if (!readers.hasNext()) throw new ImageFileException(file, "this Java runtime has no " + header.format() + " decoder");
    ImageReader reader = readers.next();
    List<String> warnings = new ArrayList<>();
    reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
    String what = header.format().toUpperCase(java.util.Locale.ROOT);
    try (FileImageInputStream in = new FileImageInputStream(file.toFile())) {
      reader.setInput(in, true, false);
      int w = reader.getWidth(0), h = reader.getHeight(0);
      if (w != header.width() || h != header.height())
        throw new ImageFileException(file, "corrupt " + what + ": the decoder reads " + w + " x " + h
            + " where the header declares " + header.width() + " x " + header.height());
      BufferedImage image = reader.read(0);
      if (!warnings.isEmpty()) throw new ImageFileException(file, "corrupt or truncated " + what + ": " + oneLine(warnings.get(0)));
      return toRgb(file, image);
    } catch (ImageFileException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      String why = e.getCause() instanceof java.io.EOFException ? "the file ends early" : oneLine(String.valueOf(e.getMessage()));
      throw new ImageFileException(file, "corrupt or truncated " + what + ": " + why);
    } finally {
      reader.dispose();
    }
  }

  /**
   * The file as 8-bit RGB for a processor: without {@code do_convert_rgb} only an RGB file has the 3
   * channels the normalisation expects, so any other mode is an error naming the file.
   */
  static RgbImage decodeForProcessor(Path file, long maxPixels, boolean convertRgb) throws IOException {
    Decoded d = decode(file, maxPixels);
    if (!convertRgb && !d.mode().equals("RGB"))
      throw new ImageFileException(file, "is a " + d.mode() + " image and do_convert_rgb is false; only RGB images"
          + " have the 3 channels the normalisation expects");
    return d.image();
  }

  private static void checkSize(Path file, ImageHeader h, long maxPixels) throws ImageFileException {
    String size = h.width() + " x " + h.height();
    if (h.width() == 0 || h.height() == 0)
      throw new ImageFileException(file, "declares an empty image (" + size + ")");
    if (h.width() > MAX_SIDE || h.height() > MAX_SIDE)
      throw new ImageFileException(file, "declares " + size + " pixels, more than the limit of " + MAX_SIDE + " a side");
    if (h.width() * h.height() > maxPixels)
      throw new ImageFileException(file, "declares " + size + " = " + h.width() * h.height()
          + " pixels, more than the limit of " + maxPixels + " (a possible decompression bomb)");
  }

  /** The decoded raster's samples as PIL's {@code convert("RGB")} would give them. */
  private static Decoded toRgb(Path file, BufferedImage image) throws ImageFileException {
    Raster r = image.getRaster();
    ColorModel cm = image.getColorModel();
    int w = r.getWidth(), h = r.getHeight(), bands = r.getNumBands();
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
    int[] row = new int[Math.multiplyExact(w, bands)];
    if (cm instanceof IndexColorModel icm && bands == 1) {
      int[] lut = new int[icm.getMapSize()];
      icm.getRGBs(lut);
      for (int y = 0, o = 0; y < h; y++) {
        r.getPixels(0, y, w, 1, row);
        for (int x = 0; x < w; x++) {
          int i = row[x];
          int c = i < lut.length ? lut[i] : 0;
          out[o++] = (byte) (c >> 16);
          out[o++] = (byte) (c >> 8);
          out[o++] = (byte) c;
        }
      }
      boolean gray = icm.getMapSize() <= 16 && isGrayRamp(lut);
      return new Decoded(new RgbImage(w, h, out), gray ? "L" : "P");
    }
    if (!(cm instanceof ComponentColorModel) || bands < 1 || bands > 4 || cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_CMYK)
      throw new ImageFileException(file, "unsupported pixel layout (" + bands + " channels, " + cm.getClass().getSimpleName() + ")");
    boolean wide = r.getTransferType() == DataBuffer.TYPE_USHORT;
    String mode = switch (bands) {
      case 1 -> wide ? "I;16" : "L";
      case 2 -> wide ? "RGBA" : "LA";
      case 3 -> "RGB";
      default -> "RGBA";
    };
    if (!wide && copyBytes(r, out)) return new Decoded(new RgbImage(w, h, out), mode);
    for (int y = 0, o = 0; y < h; y++) {
      r.getPixels(0, y, w, 1, row);
      for (int x = 0, p = 0; x < w; x++, p += bands) {
        if (bands <= 2) {
          int v = row[p];
          // PIL opens 16-bit gray as I;16, whose RGB conversion saturates; gray+alpha keeps the high byte.
          byte g = (byte) (!wide ? v : bands == 1 ? Math.min(v, 255) : v >> 8);
          out[o++] = g;
          out[o++] = g;
          out[o++] = g;
        } else {
          int shift = wide ? 8 : 0;
          out[o++] = (byte) (row[p] >> shift);
          out[o++] = (byte) (row[p + 1] >> shift);
          out[o++] = (byte) (row[p + 2] >> shift);
        }
      }
    }
    return new Decoded(new RgbImage(w, h, out), mode);
  }

  /**
   * The common case without per-sample calls: 8-bit samples interleaved in one byte array (what
   * javax.imageio gives for RGB, RGBA, gray and gray+alpha); false for any other layout.
   */
  private static boolean copyBytes(Raster r, byte[] out) {
    if (!(r.getSampleModel() instanceof ComponentSampleModel sm) || !(r.getDataBuffer() instanceof DataBufferByte db)
        || db.getNumBanks() != 1 || r.getSampleModelTranslateX() != 0 || r.getSampleModelTranslateY() != 0) return false;
    int bands = r.getNumBands();
    for (int b = 1; b < bands; b++) if (sm.getBankIndices()[b] != 0) return false;
    byte[] data = db.getData();
    int[] off = sm.getBandOffsets();
    int stride = sm.getPixelStride(), scan = sm.getScanlineStride(), w = r.getWidth(), h = r.getHeight();
    int base = db.getOffset();
    // gray (and gray+alpha) replicate band 0; colour takes bands 0..2 (R, G, B), whatever their byte order
    int r0 = off[0], g0 = bands >= 3 ? off[1] : off[0], b0 = bands >= 3 ? off[2] : off[0];
    for (int y = 0, o = 0; y < h; y++) {
      int p = base + y * scan;
      for (int x = 0; x < w; x++, p += stride) {
        out[o++] = data[p + r0];
        out[o++] = data[p + g0];
        out[o++] = data[p + b0];
      }
    }
    return true;
  }

  private static boolean isGrayRamp(int[] lut) {
    for (int c : lut) if (((c >> 16) & 0xFF) != (c & 0xFF) || ((c >> 8) & 0xFF) != (c & 0xFF)) return false;
    return true;
  }

  private static String oneLine(String s) {
    return s.replaceAll("\\s+", " ").trim();
  }
}
