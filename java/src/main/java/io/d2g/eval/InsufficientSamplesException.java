package io.d2g.eval;

import io.d2g.InvalidArgumentException;

/** Fewer samples than a metric needs for a stable estimate; the message states the minimum. */
public final class InsufficientSamplesException extends InvalidArgumentException {
  private final int minimum;

  public InsufficientSamplesException(String message, int minimum) {
    super(message);
    this.minimum = minimum;
  }

  /** The fewest samples the metric accepts. */
  public int minimum() {
    return minimum;
  }
}
