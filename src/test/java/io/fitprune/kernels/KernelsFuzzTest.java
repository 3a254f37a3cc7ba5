package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.ChildJvm;
import org.junit.jupiter.api.Test;

/** {@link KernelsFuzz} in a child JVM: 20,000 randomised calls; any crash or damaged guard fails. */
class KernelsFuzzTest {
  @Test
  void randomisedCallsNeverCrash() throws Exception {
    long seed = Long.getLong("fitprune.fuzz.seed", System.nanoTime());
    ChildJvm.Result r = ChildJvm.run(KernelsFuzz.class, 120, "20000", Long.toString(seed));
    assertTrue(r.clean() && r.output().contains("fuzz: 20000 calls"), "seed " + seed + ": " + r.describe());
  }
}
