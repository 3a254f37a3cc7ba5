package io.fitprune.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Attended;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderState;
import io.fitprune.fitting.ExactFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.StatsRecorder;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.stats.AttentionStats;
import java.util.List;
import org.junit.jupiter.api.Test;

class EvaluationTest {
  static final DecoderConfig CFG = new DecoderConfig(new Geometry("syn", 4, 128, 4, 2, 32, 256, 64, 4, 8), 64, 10000.0, 1e-5);

  @Test
  void runnerRecordsTheDecodersScoresAndExactFittingMeetsTheBudget() {
    Synthetic syn = Synthetic.of(CFG, 4, 64, 8, 3);
    Decoder dec = new Decoder(syn.weights());
    Synthetic.Sample a = syn.sample(1), b = syn.sample(2);
    DecoderRunner runner = new DecoderRunner(dec, List.of(a.embeds(), b.embeds()), List.of(a.spans(), b.spans()));
    AttentionStats st = StatsRecorder.record(runner, CFG.layers(), 64);
    // layer 0 of sample 1 as the decoder scores it directly
    DecoderState s = dec.start(b.embeds(), b.spans(), -1);
    Attended at = dec.attend(s, true);
    float[] self = java.util.Arrays.copyOfRange(st.self(), st.offset(1, 0), st.offset(1, 0) + 64);
    assertArrayEquals(at.self(), self);
    Geometry g = CFG.geometry(64, 4, 8);
    FlopsModel full = new FlopsModel(g, Scope.FULL, 4, 8);
    FitResult r = new ExactFitter(runner, st, full).fit(0.4);
    assertTrue(full.evaluate(r.prune()).reduction() >= 0.4, "exact recipe meets the budget: " + full.evaluate(r.prune()));
    // the runner checks the protocol
    runner.beginPass();
    assertThrows(IllegalStateException.class, () -> runner.attend(0, 1, 64, new float[64], new float[64]));
    assertThrows(IllegalStateException.class, () -> runner.attend(0, 0, 63, new float[64], new float[64]));
  }

  @Test
  void plantedTokensCarryTheCrossAttentionAndFitPruneKeepsThem() {
    Synthetic syn = Synthetic.of(CFG, 4, 64, 8, 5);
    Decoder dec = new Decoder(syn.weights());
    Synthetic.Sample smp = syn.sample(9);
    DecoderState s = dec.start(smp.embeds(), smp.spans(), -1);
    float[] cross = dec.attend(s, true).cross();
    double planted = 0, all = 0;
    for (int j = 0; j < 64; j++) all += cross[j];
    for (int id : smp.planted()) planted += cross[id - 4];
    assertTrue(planted / all > 0.6, "planted share of cross attention " + planted / all);
    int[] prune = {40, 10, 0, 0};
    Decoder.Prefill p = dec.prefill(smp.embeds(), smp.spans(), Pruner.fitprune(prune, 64), -1);
    int kept = 0;
    for (int id : p.state().visualIds()) if (java.util.Arrays.binarySearch(smp.planted(), id) >= 0) kept++;
    assertEquals(smp.planted().length, kept, "FitPrune keeps every planted token at 14 of 64 survivors");
  }

  @Test
  void tinyEvaluationComparesFourPoliciesAtEqualFlops() {
    Synthetic syn = Synthetic.of(CFG, 4, 64, 8, 1);
    Evaluation.Report r = Evaluation.run(syn, new Evaluation.Options(0.5, 2, 2, 1, 2, 2, true, new double[] {0.3}), null);
    assertEquals(List.of(Policy.values()), r.policies().stream().map(Evaluation.PolicyResult::policy).toList());
    assertEquals(List.of("fitprune-fast", "fitprune-exact", "random", "fastv"),
        r.policies().stream().map(Evaluation.PolicyResult::name).toList());
    for (Evaluation.PolicyResult p : r.policies()) {
      assertTrue(p.flopsReduction() >= 0.5 - 1e-9, p.name() + " cuts " + p.flopsReduction());
      assertTrue(p.cosine() > 0 && p.cosine() <= 1 + 1e-9, p.name() + " cosine " + p.cosine());
    }
    assertArrayEquals(r.policies().get(0).prune(), r.policies().get(2).prune(), "random uses the fast recipe's counts");
    assertTrue(r.policies().get(0).plantedKept() >= 0.9, "fitprune keeps planted tokens: " + r.policies().get(0).plantedKept());
    assertEquals(4 + 3, r.sweep().size());
    assertThrows(IllegalArgumentException.class, () -> new Evaluation.Options(1.5, 2, 2, 1, 2, 2, true, null));
  }
}
