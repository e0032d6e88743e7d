package io.d2g.examples;

import java.nio.file.Path;

/**
 * The training examples' rule for updates a native step skipped (a loss or gradient that was not
 * finite changes nothing): each is logged, and {@link #LIMIT} in a row end the run, pointing at the
 * newest checkpoint, which holds the last good weights.
 */
final class SkippedSteps {
  static final int LIMIT = 5;

  private final Path checkpoints;
  private final boolean counted, logged;
  private int inRow;

  /**
   * checkpoints: the run's checkpoint folder; counted: whether skips count towards the limit (not under
   * f16, where the loss scaler skips on purpose); logged: whether this process logs them (rank 0).
   */
  SkippedSteps(Path checkpoints, boolean counted, boolean logged) {
    this.checkpoints = checkpoints;
    this.counted = counted;
    this.logged = logged;
  }

  SkippedSteps(Path checkpoints) {
    this(checkpoints, true, true);
  }

  /** Whether step {@code step} updated the weights; a skipped one is logged with {@code what} and counted. */
  boolean updated(boolean stepped, long step, Object what) {
    if (stepped) {
      inRow = 0;
      return true;
    }
    if (logged) System.out.printf("step %d: update skipped (%s)%n", step, what);
    if (counted && ++inRow == LIMIT)
      throw new IllegalArgumentException("the loss has not been finite for " + LIMIT + " steps in a row (last at step "
          + step + "); stopping. The newest checkpoint in " + checkpoints + " holds the last good weights: lower the "
          + "learning rate and run again");
    return false;
  }
}
