package io.fitprune.image;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/** Images the tests write for themselves: ImageIO for valid files, hand-built chunks for hostile ones. */
final class TestImages {
  private TestImages() {}

  /** An RGB BufferedImage holding {@code im}'s pixels exactly. */
  static BufferedImage toBuffered(RgbImage im) {
    BufferedImage b = new BufferedImage(im.width(), im.height(), BufferedImage.TYPE_3BYTE_BGR);
    WritableRaster r = b.getRaster();
    int[] px = new int[3];
    for (int y = 0; y < im.height(); y++)
      for (int x = 0; x < im.width(); x++) {
        for (int c = 0; c < 3; c++) px[c] = im.get(x, y, c);
        r.setPixel(x, y, px);
      }
    return b;
  }

  static Path png(Path dir, String name, BufferedImage image) throws IOException {
    Path p = dir.resolve(name);
    if (!ImageIO.write(image, "png", p.toFile())) throw new IOException("no PNG writer for " + image);
    return p;
  }

  static Path jpeg(Path dir, String name, BufferedImage image, float quality) throws IOException {
    Path p = dir.resolve(name);
    ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
    ImageWriteParam param = w.getDefaultWriteParam();
    param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
    param.setCompressionQuality(quality);
    try (ImageOutputStream out = ImageIO.createImageOutputStream(p.toFile())) {
      w.setOutput(out);
      w.write(null, new IIOImage(image, null, null), param);
    } finally {
      w.dispose();
    }
    return p;
  }

  /** A 16-bit-per-sample image of {@code bands} channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). */
  static BufferedImage sixteenBit(int w, int h, int bands, int[] samples) {
    boolean alpha = bands == 2 || bands == 4;
    ColorSpace cs = ColorSpace.getInstance(bands <= 2 ? ColorSpace.CS_GRAY : ColorSpace.CS_sRGB);
    ComponentColorModel cm = new ComponentColorModel(cs, alpha, false,
        alpha ? Transparency.TRANSLUCENT : Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
    WritableRaster r = cm.createCompatibleWritableRaster(w, h);
    r.setPixels(0, 0, w, h, samples);
    return new BufferedImage(cm, r, false, null);
  }

  /** A PNG from raw chunks: signature, IHDR (with a correct checksum), optional IDAT of {@code idat}, IEND. */
  static byte[] pngBytes(long width, long height, int bitDepth, int colorType, byte[] idat) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    ByteBuffer ihdr = ByteBuffer.allocate(13);
    ihdr.putInt((int) width).putInt((int) height).put((byte) bitDepth).put((byte) colorType).put((byte) 0)
        .put((byte) 0).put((byte) 0);
    chunk(out, "IHDR", ihdr.array());
    if (idat != null) chunk(out, "IDAT", deflate(idat));
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  static byte[] deflate(byte[] raw) {
    Deflater d = new Deflater();
    d.setInput(raw);
    d.finish();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    while (!d.finished()) out.write(buf, 0, d.deflate(buf));
    d.end();
    return out.toByteArray();
  }

  static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(12 + data.length);
    b.putInt(data.length).put(type.getBytes(java.nio.charset.StandardCharsets.US_ASCII)).put(data);
    CRC32 crc = new CRC32();
    crc.update(b.array(), 4, 4 + data.length);
    b.putInt((int) crc.getValue());
    out.writeBytes(b.array());
  }

  static Path write(Path dir, String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }
}
