package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextStreamTest {
  /** A byte-level vocabulary: token i is byte i; 256 is the end of sequence. */
  static String decode(int[] ids) {
    byte[] b = new byte[ids.length];
    for (int i = 0; i < ids.length; i++) b[i] = (byte) ids[i];
    return new String(b, StandardCharsets.UTF_8);
  }

  static List<String> run(String answer, List<String> stops, boolean eos, boolean[] endedEarly) {
    List<String> pieces = new ArrayList<>();
    TextStream s = new TextStream(TextStreamTest::decode, t -> t == 256, stops, pieces::add);
    byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
    boolean going = true;
    for (int i = 0; i < bytes.length && going; i++) going = s.accept(bytes[i] & 0xff);
    if (going && eos) going = s.accept(256);
    if (going) s.close();
    endedEarly[0] = !going;
    return pieces;
  }

  @Test
  void emitsOnlyWholeCharactersAndStopsAtTheStopString() {
    boolean[] ended = new boolean[1];
    List<String> p = run("Zwei Kätzchen 🐱 sitzen.</s>danach", List.of("</s>"), false, ended);
    assertEquals("Zwei Kätzchen 🐱 sitzen.", String.join("", p));
    for (String piece : p) assertFalse(piece.contains("\uFFFD"), "a piece holds half a character: " + p);
    assertTrue(ended[0]);
    // A tail that only looks like the start of a stop string comes out at the end.
    p = run("a </", List.of("</s>"), false, ended);
    assertEquals("a </", String.join("", p));
    assertFalse(ended[0]);
    // The end-of-sequence token ends it; the earliest of several stop strings wins.
    p = run("x USER: y ASSISTANT:", List.of("ASSISTANT:", "USER:"), true, ended);
    assertEquals("x ", String.join("", p));
    p = run("done", List.of(), true, ended);
    assertEquals("done", String.join("", p));
    assertTrue(ended[0]);
  }

  @Test
  void refusesMisuse() {
    assertThrows(IllegalArgumentException.class, () -> new TextStream(TextStreamTest::decode, t -> false, List.of(""), s -> {}));
    TextStream s = new TextStream(TextStreamTest::decode, t -> t == 256, List.of(), x -> {});
    assertFalse(s.accept(256));
    assertThrows(IllegalStateException.class, () -> s.accept(65));
  }
}
