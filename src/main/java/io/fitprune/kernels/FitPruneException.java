package io.fitprune.kernels;

/** A native kernel reported a failure; {@link #status()} is the C API's status code. */
public final class FitPruneException extends RuntimeException {
  private final int status;

  public FitPruneException(int status, String message) {
    super(message);
    this.status = status;
  }

  public FitPruneException(int status, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
