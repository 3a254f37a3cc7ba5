package io.fitprune.cli;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * Progress on stderr. On a terminal, a progress bar. Otherwise (CI logs, {@code | tee}, captured
 * output) plain lines, at most one per interval ({@code FITPRUNE_PROGRESS_SECONDS}, default 10),
 * so a task that ends sooner prints nothing and error output keeps its one-line form.
 */
final class Progress implements AutoCloseable {
  private static volatile long intervalNanos = interval();

  private final ProgressBar bar;   // null: plain lines
  private final String task;
  private final long total;        // < 0: unknown (a wait)
  private final long start = System.nanoTime();
  private final Thread ticker;     // plain waits: prints while the caller is busy
  private long done, lastLine = start;
  private boolean printed;

  private Progress(ProgressBar bar, String task, long total, boolean tick) {
    this.bar = bar;
    this.task = task;
    this.total = total;
    if (tick) {
      ticker = new Thread(this::tick, "progress-" + task);
      ticker.setDaemon(true);
      ticker.start();
    } else {
      ticker = null;
    }
  }

  private static long interval() {
    try {
      String s = System.getenv("FITPRUNE_PROGRESS_SECONDS");
      double sec = s == null ? 10 : Double.parseDouble(s.trim());
      return (long) (Math.max(0, sec) * 1e9);
    } catch (NumberFormatException e) {
      return 10_000_000_000L;
    }
  }

  /** For tests: the plain-line interval in seconds. */
  static void plainIntervalSeconds(double seconds) {
    intervalNanos = (long) (seconds * 1e9);
  }

  /** A task of {@code total} steps. */
  static Progress start(String task, long total) {
    if (System.console() == null) return new Progress(null, task, total, false);
    return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(200).build(), task, total, false);
  }

  /** A task with no steps to count (loading weights): elapsed time only. */
  static Progress waiting(String task) {
    if (System.console() == null) return new Progress(null, task, -1, true);
    return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(-1)
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(200).build(), task, -1, false);
  }

  synchronized void step() {
    if (bar != null) {
      bar.step();
      return;
    }
    done++;
    maybeLine(System.nanoTime());
  }

  private void tick() {
    try {
      while (true) {
        Thread.sleep(Math.max(10, Math.min(1000, intervalNanos / 1_000_000)));
        synchronized (this) {
          maybeLine(System.nanoTime());
        }
      }
    } catch (InterruptedException e) {
      // closed
    }
  }

  private void maybeLine(long now) {
    if (now - lastLine < intervalNanos) return;
    lastLine = now;
    printed = true;
    PrintStream err = System.err;
    double sec = (now - start) / 1e9;
    if (total < 0) err.printf(Locale.ROOT, "%s: %.0f s%n", task, sec);
    else err.printf(Locale.ROOT, "%s: %d/%d (%.0f%%), %.0f s%n", task, done, total, total == 0 ? 100.0 : 100.0 * done / total, sec);
  }

  @Override
  public void close() {
    if (ticker != null) ticker.interrupt();
    if (bar != null) {
      bar.close();
      return;
    }
    synchronized (this) {
      if (printed) System.err.printf(Locale.ROOT, "%s: done in %.1f s%n", task, (System.nanoTime() - start) / 1e9);
    }
  }
}
