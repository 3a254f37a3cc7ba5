package io.fitprune.image;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.zip.CRC32;

/**
 * What a PNG or JPEG file declares about itself, read from its header before any pixel is
 * decoded, so that a file claiming billions of pixels (a decompression bomb) is refused for the
 * cost of reading a few bytes.
 *
 * @param format     {@code "png"} or {@code "jpeg"}
 * @param width      declared width
 * @param height     declared height
 * @param components channels per pixel: PNG's by colour type (1 gray, 2 gray+alpha, 3 RGB or
 *                   palette, 4 RGBA), JPEG's component count (1, 3 or 4)
 */
record ImageHeader(String format, long width, long height, int components) {
  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

  /** Reads the header of {@code in}, whose bytes are the file {@code file} (named in errors). */
  static ImageHeader read(Path file, InputStream raw) throws IOException {
    DataInputStream in = new DataInputStream(raw);
    byte[] magic = new byte[8];
    int n = in.readNBytes(magic, 0, 8);
    if (n >= 2 && (magic[0] & 0xFF) == 0xFF && (magic[1] & 0xFF) == 0xD8) return jpeg(file, in, magic, n);
    if (n == 8 && java.util.Arrays.equals(magic, PNG_SIGNATURE)) return png(file, in);
    if (n == 0) throw new ImageFileException(file, "is empty, not a PNG or JPEG image");
    throw new ImageFileException(file, "is not a PNG or JPEG image (unknown signature)");
  }

  private static ImageHeader png(Path file, DataInputStream in) throws IOException {
    try {
      int length = in.readInt();
      byte[] chunk = new byte[17]; // "IHDR" and its 13 bytes
      in.readFully(chunk);
      if (length != 13 || chunk[0] != 'I' || chunk[1] != 'H' || chunk[2] != 'D' || chunk[3] != 'R')
        throw new ImageFileException(file, "corrupt PNG: the first chunk is not a 13-byte IHDR");
      int crc = in.readInt();
      CRC32 c = new CRC32();
      c.update(chunk);
      if ((int) c.getValue() != crc) throw new ImageFileException(file, "corrupt PNG: IHDR checksum mismatch");
      long width = u32(chunk, 4);
      long height = u32(chunk, 8);
      int colorType = chunk[13] & 0xFF;
      int components = switch (colorType) {
        case 0 -> 1;
        case 2, 3 -> 3;
        case 4 -> 2;
        case 6 -> 4;
        default -> throw new ImageFileException(file, "corrupt PNG: unknown colour type " + colorType);
      };
      return new ImageHeader("png", width, height, components);
    } catch (EOFException e) {
      throw new ImageFileException(file, "truncated PNG: the file ends inside its header");
    }
  }

  /** Walks the JPEG markers up to the first start-of-frame, which holds the size. */
  private static ImageHeader jpeg(Path file, DataInputStream in, byte[] magic, int have) throws IOException {
    InputStream rest = new java.io.SequenceInputStream(new java.io.ByteArrayInputStream(magic, 2, have - 2), in);
    DataInputStream s = new DataInputStream(rest);
    try {
      while (true) {
        int b = s.readUnsignedByte();
        if (b != 0xFF) throw new ImageFileException(file, "corrupt JPEG: expected a marker, found byte 0x"
            + Integer.toHexString(b));
        int marker;
        do marker = s.readUnsignedByte(); while (marker == 0xFF); // fill bytes
        if (marker == 0xD9) throw new ImageFileException(file, "corrupt JPEG: the image ends before its frame header");
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue; // no length
        int length = s.readUnsignedShort();
        if (length < 2) throw new ImageFileException(file, "corrupt JPEG: segment length " + length);
        boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
          if (length < 8) throw new ImageFileException(file, "corrupt JPEG: frame header of " + length + " bytes");
          s.readUnsignedByte(); // sample precision
          int height = s.readUnsignedShort();
          int width = s.readUnsignedShort();
          int components = s.readUnsignedByte();
          if (components != 1 && components != 3 && components != 4)
            throw new ImageFileException(file, "unsupported JPEG: " + components + " colour components");
          return new ImageHeader("jpeg", width, height, components);
        }
        s.skipNBytes(length - 2);
      }
    } catch (EOFException e) {
      throw new ImageFileException(file, "truncated JPEG: the file ends before its frame header");
    }
  }

  private static long u32(byte[] b, int at) {
    return ((b[at] & 0xFFL) << 24) | ((b[at + 1] & 0xFFL) << 16) | ((b[at + 2] & 0xFFL) << 8) | (b[at + 3] & 0xFFL);
  }
}
