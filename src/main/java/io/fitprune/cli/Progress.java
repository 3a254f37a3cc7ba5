package io.fitprune.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * A progress bar on stderr for interactive runs. It stays silent when there is no console (piped
 * or captured output), so scripts and error messages keep their one-line form.
 */
final class Progress implements AutoCloseable {
  private final ProgressBar bar;

  private Progress(ProgressBar bar) {
    this.bar = bar;
  }

  static Progress start(String task, long total) {
    if (System.console() == null) return new Progress(null);
    return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(200).build());
  }

  void step() {
    if (bar != null) bar.step();
  }

  @Override
  public void close() {
    if (bar != null) bar.close();
  }
}
