package io.fitprune.hf;

/**
 * Jinja2's {@code lstrip_blocks}, which transformers turns on for chat templates, as a rewrite of
 * the template source for Jinjava (whose own option also strips spaces before a tag in mid-line):
 * the spaces and tabs between a line's start and a block tag or comment are dropped, unless the
 * tag opens with {@code {%+}. A line starts at the source's start and after a newline of text;
 * text after any tag is mid-line. Tags are found as Jinja2's lexer finds them: quoted strings
 * inside {@code {% %}} and <code>{{ }}</code> are skipped, and a {@code raw} block's body is text.
 */
final class LstripBlocks {
  private LstripBlocks() {}

  static String apply(String src) {
    StringBuilder out = new StringBuilder(src.length());
    boolean lineStart = true; // only spaces and tabs since the line's start
    int i = 0, n = src.length();
    while (i < n) {
      char c = src.charAt(i);
      char kind = c == '{' && i + 1 < n ? src.charAt(i + 1) : 0;
      if (kind != '%' && kind != '#' && kind != '{') {
        out.append(c);
        if (c == '\n') lineStart = true;
        else if (c != ' ' && c != '\t') lineStart = false;
        i++;
        continue;
      }
      int end = tagEnd(src, i, kind);
      String tag = src.substring(i, end);
      if (kind != '{') {
        boolean plus = tag.length() > 2 && tag.charAt(2) == '+';
        if (plus) tag = tag.substring(0, 2) + tag.substring(3); // Jinjava does not know the marker
        else if (lineStart) {
          int k = out.length();
          while (k > 0 && (out.charAt(k - 1) == ' ' || out.charAt(k - 1) == '\t')) k--;
          out.setLength(k);
        }
      }
      out.append(tag);
      i = end;
      lineStart = false;
      if (kind == '%' && isRaw(tag)) {
        int body = rawEnd(src, i);
        for (int k = i; k < body; k++) {
          char b = src.charAt(k);
          out.append(b);
          if (b == '\n') lineStart = true;
          else if (b != ' ' && b != '\t') lineStart = false;
        }
        i = body;
      }
    }
    return out.toString();
  }

  /** The index after the tag opened at {@code at} (its closing delimiter), or the source's end when unclosed. */
  private static int tagEnd(String src, int at, char kind) {
    String close = kind == '{' ? "}}" : kind + "}";
    int n = src.length();
    char quote = 0;
    for (int i = at + 2; i < n; i++) {
      char c = src.charAt(i);
      if (kind != '#' && quote != 0) {
        if (c == '\\') i++;
        else if (c == quote) quote = 0;
      } else if (kind != '#' && (c == '\'' || c == '"')) {
        quote = c;
      } else if (src.startsWith(close, i)) {
        return i + 2;
      }
    }
    return n;
  }

  private static boolean isRaw(String tag) {
    return tag.replaceAll("[{}%+\\-\\s]", "").equals("raw");
  }

  /** Where the {@code endraw} tag after a raw body starting at {@code from} opens, or the source's end. */
  private static int rawEnd(String src, int from) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%}").matcher(src);
    return m.find(from) ? m.start() : src.length();
  }
}
