package io.d2g.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Keeps the JVM's exit from pulling LibTorch out from under native work in progress.
 *
 * <p>When the JVM exits ({@code System.exit}, the end of {@code main}, SIGINT or SIGTERM), its
 * process-wide teardown runs LibTorch's static destructors while other threads may still be inside a
 * forward pass or a copy; that crashed the process with SIGSEGV. Every call in {@link Native} that
 * enters native code counts itself in and out here (the library's load too: LibTorch's static
 * initialisers run inside it), and a shutdown hook, registered before the library loads, then
 *
 * <ol>
 *   <li>refuses new native work: a call that starts afterwards throws {@link IllegalStateException}
 *       ("the JVM is shutting down"), and a handle freed afterwards is left to the process's end;
 *   <li>waits for the calls already inside native code to return, for at most {@code
 *       -Dd2g.exit.waitSeconds} seconds (default 60). A call that takes longer (a stuck device) is
 *       reported on standard error and the exit goes on.
 * </ol>
 *
 * Other shutdown hooks run concurrently with this one, in no set order, so a hook of yours must not
 * rely on calling into d2g; save work from the thread that does it (a training loop checks its own
 * stop flag). {@code Runtime.halt} skips all hooks and so this guard too.
 *
 * <p>The count is a {@link LongAdder}: a call costs two uncontended increments. Not public API.
 */
final class ExitGuard {
  private ExitGuard() {}

  private static final LongAdder IN_FLIGHT = new LongAdder();
  private static volatile boolean closing;
  private static volatile boolean installed;

  /** Counts a native call in; throws once the JVM is shutting down. Pair with {@link #leave}. */
  static void enter() {
    IN_FLIGHT.increment();
    if (closing) {
      IN_FLIGHT.decrement();
      throw new IllegalStateException("the JVM is shutting down: d2g starts no new native work");
    }
  }

  /** Counts a native call out. */
  static void leave() {
    IN_FLIGHT.decrement();
  }

  /**
   * Counts a free in, or returns false once the JVM is shutting down (the handle is then left to
   * the process's end, never freed under LibTorch's teardown). Pair a true answer with {@link #leave}.
   */
  static boolean enterFree() {
    IN_FLIGHT.increment();
    if (closing) {
      IN_FLIGHT.decrement();
      return false;
    }
    return true;
  }

  /**
   * Registers the shutdown hook once; called before the native library loads (the load is counted
   * like a call). Throws {@link IllegalStateException} once the JVM is shutting down.
   */
  static synchronized void install() {
    if (installed) return;
    try {
      Runtime.getRuntime().addShutdownHook(new Thread(ExitGuard::drain, "d2g-exit-guard"));
    } catch (IllegalStateException shutdownInProgress) {
      throw new IllegalStateException("the JVM is shutting down: d2g does not load its library now", shutdownInProgress);
    }
    installed = true;
  }

  /** Whether the JVM has begun shutting down (new native work is refused). */
  static boolean closing() {
    return closing;
  }

  private static void drain() {
    closing = true;
    long waitNanos = TimeUnit.SECONDS.toNanos(Long.getLong("d2g.exit.waitSeconds", 60));
    long deadline = System.nanoTime() + waitNanos;
    while (IN_FLIGHT.sum() > 0) {
      if (System.nanoTime() - deadline > 0) {
        System.err.println("d2g: " + IN_FLIGHT.sum() + " native call(s) still running after "
            + TimeUnit.NANOSECONDS.toSeconds(waitNanos) + " s; exiting anyway");
        return;
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        return;
      }
    }
  }
}
