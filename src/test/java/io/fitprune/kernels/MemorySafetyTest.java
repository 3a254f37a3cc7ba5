package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.ChildJvm;
import org.junit.jupiter.api.Test;

/** The calls of {@link CrashProbes}, in a child JVM: each ends in an exception, none crashes. */
class MemorySafetyTest {
  @Test
  void probesEndInExceptionsNotCrashes() throws Exception {
    ChildJvm.Result r = ChildJvm.run(CrashProbes.class, 120);
    assertTrue(r.clean(), r.describe());
    for (String line : r.output().split("\n"))
      if (line.startsWith("probe ") && !line.endsWith("..."))
        assertTrue(line.contains("Exception: ") && !line.contains("ArithmeticException"),
            "each probe should end in a clear exception: " + line);
  }
}
