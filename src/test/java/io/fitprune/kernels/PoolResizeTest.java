package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.ChildJvm;
import org.junit.jupiter.api.Test;

/** {@link PoolResizeLoop} in a child JVM, so a hang fails the test by its timeout instead of stopping the build. */
class PoolResizeTest {
  @Test
  void resizingThePoolBetweenCallsNeverHangs() throws Exception {
    ChildJvm.Result r = ChildJvm.run(PoolResizeLoop.class, 60, "5000");
    assertTrue(r.clean() && r.output().contains("pool resized 5000 times"), r.describe());
  }
}
