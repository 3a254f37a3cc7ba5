package io.fitprune.hf;

/**
 * GPT-2's byte-to-character table ({@code bytes_to_unicode}), which byte-level BPE vocabularies
 * such as Qwen2's are spelt in: the printable bytes {@code !..~}, {@code ¡..¬} and {@code ®..ÿ}
 * stand for themselves, every other byte for U+0100 onwards in byte order (the space is
 * {@code Ġ}).
 */
final class ByteLevel {
  private static final char[] CHAR = new char[256];

  static {
    int next = 256;
    for (int b = 0; b < 256; b++) CHAR[b] = printable(b) ? (char) b : (char) next++;
  }

  private ByteLevel() {}

  private static boolean printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  }

  /** The character byte {@code b} (0..255) is spelt with. */
  static char of(int b) {
    return CHAR[b];
  }

  /** The 256 byte tokens in the order Qwen2's vocabulary gives them ids: by their character. */
  static String[] tokensInVocabOrder() {
    char[] sorted = CHAR.clone();
    java.util.Arrays.sort(sorted);
    String[] out = new String[256];
    for (int i = 0; i < 256; i++) out[i] = String.valueOf(sorted[i]);
    return out;
  }
}
