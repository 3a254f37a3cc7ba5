package io.fitprune.hf;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A string as a chat template sees it: the Python {@code str} methods Hugging Face's templates
 * call ({@code message['role'].upper()}, {@code .strip()}, ...), which Jinjava's Java strings
 * lack. Compared and concatenated as its text.
 */
public final class PyStr implements CharSequence {
  private final String s;

  public PyStr(String s) {
    this.s = s;
  }

  public String upper() {
    return s.toUpperCase(Locale.ROOT);
  }

  public String lower() {
    return s.toLowerCase(Locale.ROOT);
  }

  public String strip() {
    return s.strip();
  }

  public String lstrip() {
    return s.stripLeading();
  }

  public String rstrip() {
    return s.stripTrailing();
  }

  public String title() {
    StringBuilder b = new StringBuilder(s.length());
    boolean start = true;
    for (char c : s.toCharArray()) {
      b.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
      start = !Character.isLetter(c);
    }
    return b.toString();
  }

  public boolean startswith(String p) {
    return s.startsWith(p);
  }

  public boolean endswith(String p) {
    return s.endsWith(p);
  }

  public String replace(String a, String b) {
    return s.replace(a, b);
  }

  public List<String> split(String sep) {
    return Arrays.asList(s.split(java.util.regex.Pattern.quote(sep), -1));
  }

  @Override
  public int length() {
    return s.length();
  }

  @Override
  public char charAt(int i) {
    return s.charAt(i);
  }

  @Override
  public CharSequence subSequence(int a, int b) {
    return s.subSequence(a, b);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PyStr p ? p.s.equals(s) : o instanceof String t && t.equals(s);
  }

  @Override
  public int hashCode() {
    return s.hashCode();
  }

  @Override
  public String toString() {
    return s;
  }
}
