package io.d2g.train;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.InvalidArgumentException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PrefetcherTest {
  /** A batch that records being closed. */
  static final class Batch implements AutoCloseable {
    final long step;
    boolean closed;

    Batch(long step) {
      this.step = step;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  @Test
  void batchesComeInStepOrderAndNoFurtherAheadThanTheDepth() throws Exception {
    AtomicLong made = new AtomicLong(), highest = new AtomicLong(-1);
    List<Long> seen = new ArrayList<>();
    try (Prefetcher<Batch> p = Prefetcher.of(5, 25, 2, s -> {
      made.incrementAndGet();
      highest.accumulateAndGet(s, Math::max);
      return new Batch(s);
    })) {
      Thread.sleep(200); // let it run ahead as far as it may
      assertTrue(highest.get() <= 5 + 2, "ran ahead to step " + highest.get()); // depth queued + one in hand
      for (long s = 5; s < 25; s++) {
        Batch b = p.next();
        seen.add(b.step);
        assertTrue(highest.get() <= s + 3, "at step " + s + " it had made step " + highest.get());
      }
      assertThrows(IllegalStateException.class, p::next, "past the last step");
    }
    assertEquals(20, made.get());
    for (int i = 0; i < seen.size(); i++) assertEquals(5L + i, seen.get(i));
  }

  @Test
  void aFailureReachesTheCallerAtItsStepAndClosingClosesWhatWasNotTaken() throws Exception {
    try (Prefetcher<Batch> p = Prefetcher.of(0, 10, 3, s -> {
      if (s == 2) throw new IllegalArgumentException("bad picture at step 2");
      return new Batch(s);
    })) {
      assertEquals(0, p.next().step);
      assertEquals(1, p.next().step);
      var e = assertThrows(IllegalArgumentException.class, p::next);
      assertEquals("bad picture at step 2", e.getMessage());
      assertThrows(IllegalStateException.class, p::next, "closed after a failure");
    }
    List<Batch> made = new ArrayList<>();
    Prefetcher<Batch> p = Prefetcher.of(0, 100, 4, s -> {
      Batch b = new Batch(s);
      synchronized (made) {
        made.add(b);
      }
      return b;
    });
    Batch first = p.next();
    Thread.sleep(100);
    p.close();
    assertFalse(first.closed, "what the caller took is the caller's");
    synchronized (made) {
      assertTrue(made.size() >= 2 && made.size() <= 7, "made " + made.size());
      for (Batch b : made.subList(1, made.size())) assertTrue(b.closed, "step " + b.step + " was not closed");
    }
    assertThrows(IllegalStateException.class, p::next);
  }

  @Test
  void refusesWhatCannotBe() {
    assertThrows(InvalidArgumentException.class, () -> Prefetcher.of(0, 1, 0, Batch::new));
    assertThrows(InvalidArgumentException.class, () -> Prefetcher.of(0, 1, 65, Batch::new));
    assertThrows(InvalidArgumentException.class, () -> Prefetcher.of(3, 2, 1, Batch::new));
    try (Prefetcher<Batch> empty = Prefetcher.of(4, 4, 1, Batch::new)) {
      assertThrows(IllegalStateException.class, empty::next);
    }
  }
}
