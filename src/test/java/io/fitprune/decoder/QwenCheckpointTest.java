package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.DType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Qwen2 language-model checkpoints: q/k/v biases, tied embeddings, both name layouts. */
class QwenCheckpointTest {
  @TempDir
  Path tmp;

  @Test
  void aTiedCheckpointUsesTheEmbeddingTableAsItsHeadInBothLayouts() throws Exception {
    DecoderConfig c = MropeDecoderTest.CFG;
    for (RandomCheckpoint.Layout layout : new RandomCheckpoint.Layout[] {RandomCheckpoint.Layout.LLAMA,
        RandomCheckpoint.Layout.QWEN2_VL}) {
      Path dir = tmp.resolve("tied-" + layout);
      RandomCheckpoint.write(dir, c, layout, DType.F32, true, true, 5, 1 << 20);
      DecoderWeights w = DecoderWeights.load(dir, c, null, false, true);
      assertArrayEquals(Tensors.toArray(w.embed()), Tensors.toArray(w.lmHead()));
      for (int l = 0; l < c.layers(); l++) {
        assertNotNull(w.layer(l).qBias());
        assertNotNull(w.layer(l).kBias());
        assertNotNull(w.layer(l).vBias());
      }
      String m = assertThrows(IllegalArgumentException.class, () -> DecoderWeights.load(dir, c, null, false, false))
          .getMessage();
      assertTrue(m.contains("'lm_head.weight'"), m);
      // and it runs: prefill at 3-D positions, then a decode step
      Decoder dec = new Decoder(w);
      int[][] pos = {{0, 1, 1, 1, 3}, {0, 1, 1, 2, 3}, {0, 1, 2, 1, 3}};
      try (Decoder.Prefill p = dec.prefill(Tensors.of(DecoderTest.embeds(3, 5, c.hidden()), 5, c.hidden()),
          new io.fitprune.kernels.Spans(1, 3), pos, io.fitprune.pruning.Pruner.none(), 1)) {
        assertTrue(dec.step(p.state(), p.nextToken()).logits().length == c.vocab());
        assertArrayEquals(new long[] {6, 6, 6}, p.state().kvLengths());
      }
    }
  }

  @Test
  void anUntiedCheckpointLoadedAsTiedIgnoresItsHead() throws Exception {
    DecoderConfig c = MropeDecoderTest.CFG;
    Path dir = tmp.resolve("untied");
    RandomCheckpoint.write(dir, c, RandomCheckpoint.Layout.LLAMA, DType.F32, true, false, 6, 1 << 20);
    DecoderWeights tied = DecoderWeights.load(dir, c, null, false, true);
    assertArrayEquals(Tensors.toArray(tied.embed()), Tensors.toArray(tied.lmHead()));
    DecoderWeights untied = DecoderWeights.load(dir, c, null, false, false);
    assertTrue(!java.util.Arrays.equals(Tensors.toArray(untied.embed()), Tensors.toArray(untied.lmHead())));
  }
}
