package io.d2g.train;

import io.d2g.InvalidArgumentException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.LongFunction;

/**
 * Makes the batches of steps {@code from, from + 1, ..., to - 1} on a background thread, up to {@code
 * depth} ahead, so that composing pictures and tokenising captions (Java work on the CPU) overlaps the
 * previous step on the GPU, as a PyTorch DataLoader's workers do. The batches come out in step order
 * and each is a function of its step alone ({@code make.apply(step)}), so a run resumed at any step sees
 * the same data as one that was not interrupted. A failure in {@code make} is thrown by {@link #next()}.
 * Closing stops the thread and closes the batches made but not taken.
 *
 * <pre>{@code
 * try (Prefetcher<Batch> data = Prefetcher.of(start, steps, 2, s -> Batch.make(s))) {
 *   for (long s = start; s < steps; s++) try (Batch b = data.next()) { ... }
 * }
 * }</pre>
 */
public final class Prefetcher<T extends AutoCloseable> implements AutoCloseable {
  private record Item<T>(long step, T value, Throwable error) {}

  private final BlockingQueue<Item<T>> queue;
  private final Thread thread;
  private final long to;
  private long next;
  private volatile boolean closed;

  private Prefetcher(long from, long to, int depth, LongFunction<T> make) {
    this.queue = new ArrayBlockingQueue<>(depth);
    this.to = to;
    this.next = from;
    this.thread = Thread.ofPlatform().daemon().name("d2g-prefetch").unstarted(() -> {
      for (long s = from; s < to && !closed; s++) {
        Item<T> item;
        try {
          item = new Item<>(s, make.apply(s), null);
        } catch (Throwable e) {
          item = new Item<>(s, null, e);
        }
        try {
          queue.put(item);
        } catch (InterruptedException e) {
          closeQuietly(item.value());
          return;
        }
        if (item.error() != null) return;
      }
    });
    thread.start();
  }

  /** Batches of steps from (inclusive) to to (exclusive), made up to depth (1 to 64) ahead. */
  public static <T extends AutoCloseable> Prefetcher<T> of(long from, long to, int depth, LongFunction<T> make) {
    if (depth < 1 || depth > 64) throw new InvalidArgumentException("prefetch depth must be 1 to 64, not " + depth);
    if (to < from) throw new InvalidArgumentException("steps " + from + " to " + to + " run backwards");
    return new Prefetcher<>(from, to, depth, make);
  }

  /** The next step's batch (the caller closes it); waits for it if it is not made yet. */
  public T next() {
    if (closed) throw new IllegalStateException("the prefetcher is closed");
    if (next >= to) throw new IllegalStateException("no step after " + (to - 1));
    Item<T> item;
    try {
      item = queue.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for step " + next + "'s batch", e);
    }
    if (item.error() != null) {
      closed = true;
      if (item.error() instanceof RuntimeException r) throw r;
      if (item.error() instanceof Error err) throw err;
      throw new IllegalStateException("making step " + item.step() + "'s batch failed: " + item.error(), item.error());
    }
    next++;
    return item.value();
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Item<T> item; (item = queue.poll()) != null; ) closeQuietly(item.value());
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) return;
    try {
      c.close();
    } catch (Exception ignored) {
      // a batch that fails to close while the run stops changes nothing
    }
  }
}
