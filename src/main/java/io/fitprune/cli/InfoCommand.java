package io.fitprune.cli;

import io.fitprune.kernels.BackendInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Version, backends, CPU features used and CUDA status.")
final class InfoCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    BackendInfo b = BackendInfo.query();
    System.out.println(new Main.Version().getVersion()[0] + " (native " + b.nativeVersion() + ")");
    System.out.println("cpu:  available, path " + b.cpuIsa() + " (supported: " + b.cpuIsas() + "), "
        + b.cpuThreads() + " threads");
    System.out.println("      features: " + b.cpuFeatures());
    System.out.println("cuda: " + (b.cudaCompiled() ? "compiled in" : "not compiled in") + "; " + b.cudaStatus());
    System.out.println("      kernels: fp16/bf16 tensor-core attention and scores (head dims 64, 128), fp32 FMA path;"
        + " score --backend auto uses " + (b.cudaAvailable() ? "cuda" : "cpu") + " here");
    return 0;
  }
}
