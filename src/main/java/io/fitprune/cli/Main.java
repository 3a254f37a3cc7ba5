package io.fitprune.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar fitprune.jar <command>}: errors are one line on stderr and a non-zero exit. */
@Command(
    name = "fitprune",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "FitPrune: training-free visual token pruning for multimodal LLMs.",
    subcommands = {DemoCommand.class, PrefillCommand.class, InfoCommand.class, GenerateCommand.class, ScoreCommand.class, FlopsCommand.class,
        FitCommand.class, SweepCommand.class, StatsExampleCommand.class,
        RandomCheckpointCommand.class, EmbedCommand.class, AskCommand.class})
public final class Main implements Runnable {
  /** Exit codes: 1 for a failure while running, 2 for bad arguments. */
  public static final int EXIT_FAILURE = 1, EXIT_USAGE = 2;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (tests call this). */
  public static int run(String... args) {
    io.fitprune.decoder.DecoderRuntime.tuneProcess(); // the CLI tunes its process; before anything loads libtorch
    CommandLine cl = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler((ex, a) -> {
      ex.getCommandLine().getErr().println("fitprune: " + ex.getMessage() + " (see --help)");
      return EXIT_USAGE;
    });
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("fitprune: error: " + oneLine(ex));
      if (System.getenv("FITPRUNE_DEBUG") != null) ex.printStackTrace(cmd.getErr());
      return ex instanceof IllegalArgumentException ? EXIT_USAGE : EXIT_FAILURE;
    });
    return cl.execute(args);
  }

  /**
   * The message on one line of at most 300 characters, without the C++ backtrace libtorch appends
   * to its errors ("Exception raised from ...", "frame #0: ..."); FITPRUNE_DEBUG=1 prints it all.
   */
  static String oneLine(Throwable ex) {
    String msg = ex.getMessage();
    if (msg == null || msg.isBlank()) msg = ex.getClass().getSimpleName();
    String line = String.join(" ", msg.strip().lines()
        .takeWhile(l -> !l.startsWith("Exception raised from") && !l.startsWith("frame #"))
        .map(String::strip).toList());
    return line.length() > 300 ? line.substring(0, 297) + "..." : line;
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"fitprune " + (v == null ? "dev" : v)};
    }
  }
}
