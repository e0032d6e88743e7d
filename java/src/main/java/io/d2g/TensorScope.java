package io.d2g;

import java.util.ArrayList;
import java.util.List;

/**
 * Closes many temporaries at once:
 *
 * <pre>{@code
 * try (TensorScope scope = new TensorScope()) {
 *   Tensor a = scope.track(Tensor.randn(DType.F32, Device.CPU, 4, 4));
 *   Tensor b = scope.track(a.matmul(a));
 *   return scope.detach(b.sum());   // survives the scope
 * }
 * }</pre>
 *
 * Tensors are closed in reverse order of tracking. A scope belongs to one thread at a time.
 */
public final class TensorScope implements AutoCloseable {
  private final List<Tensor> tracked = new ArrayList<>();
  private boolean closed;

  /** Closes {@code t} when this scope closes; returns it. */
  public Tensor track(Tensor t) {
    if (closed) {
      t.close();
      throw new IllegalStateException("scope is closed");
    }
    tracked.add(t);
    return t;
  }

  /** Takes {@code t} out of the scope so that it outlives it; returns it. */
  public Tensor detach(Tensor t) {
    for (int i = tracked.size() - 1; i >= 0; i--) {
      if (tracked.get(i) == t) {
        tracked.remove(i);
        break;
      }
    }
    return t;
  }

  /** Number of tensors this scope will close. */
  public int size() {
    return tracked.size();
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    RuntimeException first = null;
    for (int i = tracked.size() - 1; i >= 0; i--) {
      try {
        tracked.get(i).close();
      } catch (RuntimeException e) {
        if (first == null) first = e;
        else first.addSuppressed(e);
      }
    }
    tracked.clear();
    if (first != null) throw first;
  }
}
