// Runs JUnit 5 test classes without Maven (single-file source launch, JDK 11+), for the GPU
// machine: java -cp CLASSPATH benchmarks/gpu/RunTests.java io.fitprune.kernels.CudaKernelsTest ...
// Prints each test's outcome (skips with their reason) and exits 1 on any failure.
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.List;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassSelector;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

public class RunTests {
  public static void main(String[] args) {
    List<ClassSelector> selectors = new ArrayList<>();
    for (String c : args) selectors.add(selectClass(c));
    var request = LauncherDiscoveryRequestBuilder.request().selectors(selectors).build();
    var summary = new SummaryGeneratingListener();
    TestExecutionListener printer = new TestExecutionListener() {
      @Override
      public void executionSkipped(TestIdentifier id, String reason) {
        System.out.println("SKIP " + id.getDisplayName() + ": " + reason);
      }

      @Override
      public void executionFinished(TestIdentifier id, TestExecutionResult r) {
        if (id.isTest())
          System.out.println(r.getStatus() + " " + id.getDisplayName()
              + r.getThrowable().map(t -> ": " + t).orElse(""));
      }
    };
    LauncherFactory.create().execute(request, summary, printer);
    summary.getSummary().printTo(new java.io.PrintWriter(System.out));
    System.exit(summary.getSummary().getTotalFailureCount() == 0 ? 0 : 1);
  }
}
