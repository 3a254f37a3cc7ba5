package io.fitprune.flops;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.model.Geometry;
import org.junit.jupiter.api.Test;

class FlopsModelTest {
  // L=2, D=4, H=2, G=1, d=2, F=8, V=3, P=1, t=2: small enough to count by hand.
  static final Geometry TOY = new Geometry("toy", 2, 4, 2, 1, 2, 8, 3, 1, 2);

  @Test
  void paperScopeByHand() {
    FlopsModel m = FlopsModel.of(TOY, Scope.PAPER);
    // 3*3*16 + 2*9*4 + 1*16 + 3*1*4*8
    assertEquals(144 + 72 + 16 + 96, m.layer(3, 1));
    // unpruned layer: 144 + 72 + 48 + 288 = 552, two layers
    assertEquals(1104, m.baseline());
    // recipe [2, 1]: layer 0 (3 -> 1) = 328, layer 1 (1 -> 0) = 3*16 + 2*4 = 56
    Cost c = m.evaluate(new int[] {2, 1});
    assertEquals(384, c.pruned());
    assertEquals(1 - 384.0 / 1104, c.reduction(), 1e-15);
    // score passes at both layers: H*d*nv*(nv+t) = 4*3*5 + 4*1*3
    assertEquals(60 + 12, c.scoreOverhead());
  }

  @Test
  void fullScopeByHand() {
    FlopsModel m = FlopsModel.of(TOY, Scope.FULL);
    // in: n = 1+3+2 = 6: QKV 2*6*4*(4+2*1*2) = 384, attention 4*2*2*(6*7/2) = 336
    // out: n = 1+1+2 = 4: o-proj 2*4*16 = 128, MLP 6*4*4*8 = 768
    assertEquals(384 + 336 + 128 + 768, m.layer(3, 1));
    // overriding P and t changes the count: P=0, t=0, nIn=nOut=1: 2*1*4*8 + 4*2*2*1 + 2*16 + 6*32
    FlopsModel bare = new FlopsModel(TOY, Scope.FULL, 0, 0);
    assertEquals(64 + 16 + 32 + 192, bare.layer(1, 1));
    // score pass, full: 2*H*d*(nv(nv+1)/2 + t*nv) = 2*4*(6 + 6)
    assertEquals(96, m.scorePass(3));
  }

  // Gemma-style: D=6 is not H*d = 2*2 = 4. L=1, G=1, F=8, V=3, P=1, t=2.
  static final Geometry WIDE = new Geometry("wide", 1, 6, 2, 1, 2, 8, 3, 1, 2);

  @Test
  void hiddenOtherThanAttentionWidthFullScopeByHand() {
    FlopsModel m = FlopsModel.of(WIDE, Scope.FULL);
    // in: n = 6: q 2*6*6*4 = 288, k and v 2*6*6*(2*1*2) = 288, attention 4*4*21 = 336
    // out: n = 1+1+2 = 4: o-proj 2*4*4*6 = 192, MLP 6*4*6*8 = 1152
    assertEquals(288 + 288 + 336 + 192 + 1152, m.layer(3, 1));
    // score pass: 2*H*d*(nv(nv+1)/2 + t*nv) = 2*4*(6 + 6)
    assertEquals(96, m.scorePass(3));
  }

  @Test
  void hiddenOtherThanAttentionWidthPaperScopeByHand() {
    FlopsModel m = FlopsModel.of(WIDE, Scope.PAPER);
    // in: q, k, v 3*nv*D*A = 3*3*6*4 = 216, attention 2*nv*nv*A = 2*9*4 = 72
    // out (nv = 1): o 1*4*6 = 24, MLP 3*1*6*8 = 144
    assertEquals(216 + 72 + 24 + 144, m.layer(3, 1));
    // baseline: 216 + 72 + 3*24 + 3*144
    assertEquals(216 + 72 + 72 + 432, m.baseline());
  }

  @Test
  void llava7bPaperBaseline() {
    Geometry g = new Geometry("llava-1.5-7b", 32, 4096, 32, 32, 128, 11008, 576, 35, 64);
    long D = 4096, F = 11008, n = 576;
    long layer = 3 * n * D * D + 2 * n * n * D + n * D * D + 3 * n * D * F;
    assertEquals(32 * layer, FlopsModel.of(g, Scope.PAPER).baseline());
    // Pruning everything after layer 0 leaves only layer 0's pre-pruning part.
    int[] all = new int[32];
    all[0] = 576;
    assertEquals(3 * n * D * D + 2 * n * n * D, FlopsModel.of(g, Scope.PAPER).evaluate(all).pruned());
  }

  @Test
  void gqaShrinksKvProjections() {
    Geometry mha = new Geometry("a", 1, 256, 4, 4, 64, 512, 16, 0, 0);
    Geometry gqa = new Geometry("b", 1, 256, 4, 1, 64, 512, 16, 0, 0);
    // K and V projections: 2*n*D*2*G*d; with G 4 -> 1 they shrink by 2*16*256*2*3*64
    assertEquals(2.0 * 16 * 256 * 2 * 3 * 64,
        FlopsModel.of(mha, Scope.FULL).baseline() - FlopsModel.of(gqa, Scope.FULL).baseline());
  }

  @Test
  void rejectsInvalidRecipes() {
    FlopsModel m = FlopsModel.of(TOY, Scope.PAPER);
    assertThrows(IllegalArgumentException.class, () -> m.evaluate(new int[] {0, 0, 0}));
    assertThrows(IllegalArgumentException.class, () -> m.evaluate(new int[] {0}));
    assertThrows(IllegalArgumentException.class, () -> m.evaluate(new int[] {-1, 0}));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.evaluate(new int[] {2, 2}));
    assertTrue(e.getMessage().contains("only 1"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new FlopsModel(TOY, Scope.FULL, -1, 0));
  }

  @Test
  void scopeNames() {
    assertEquals(Scope.FULL, Scope.parse("full"));
    assertEquals(Scope.PAPER, Scope.parse("PAPER"));
    assertThrows(IllegalArgumentException.class, () -> Scope.parse("half"));
  }
}
