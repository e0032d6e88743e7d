package io.d2g.internal;

/**
 * How the calling Java thread's native computations run: the C API's {@code d2g_exec} bits (record
 * the autograd graph; autocast to bf16 or f16), kept per Java thread (virtual threads included) and
 * passed with every computing call, so that the setting never depends on which OS thread runs it.
 * The public face is {@link io.d2g.Autograd} and {@link io.d2g.Autocast}. Not public API.
 */
public final class ExecMode {
  private ExecMode() {}

  public static final int GRAD = 1;
  public static final int AUTOCAST_BF16 = 2;
  public static final int AUTOCAST_F16 = 4;
  public static final int AUTOCAST = AUTOCAST_BF16 | AUTOCAST_F16;

  private static final ThreadLocal<int[]> BITS = ThreadLocal.withInitial(() -> new int[1]);

  /** The calling thread's bits. */
  public static int bits() {
    return BITS.get()[0];
  }

  /**
   * Replaces the bits under {@code mask} with {@code value} for the calling thread until the
   * returned scope is closed (on the same thread), which restores what was there.
   */
  public static Scope set(int mask, int value) {
    int[] cell = BITS.get();
    int previous = cell[0];
    cell[0] = (previous & ~mask) | (value & mask);
    return new Scope(cell, previous, Thread.currentThread());
  }

  /** Restores the bits that were in force before it was opened. */
  public static final class Scope implements AutoCloseable {
    private final int[] cell;
    private final int previous;
    private final Thread owner;
    private boolean closed;

    private Scope(int[] cell, int previous, Thread owner) {
      this.cell = cell;
      this.previous = previous;
      this.owner = owner;
    }

    @Override
    public void close() {
      if (closed) return;
      if (Thread.currentThread() != owner)
        throw new IllegalStateException("a grad or autocast scope must be closed on the thread that opened it ("
            + owner + "), not on " + Thread.currentThread());
      closed = true;
      cell[0] = previous;
    }
  }
}
