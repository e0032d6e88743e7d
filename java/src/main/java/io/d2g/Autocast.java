package io.d2g;

import io.d2g.internal.ExecMode;

/**
 * Mixed precision, as {@code torch.autocast}: inside a scope, the calling thread's tensor operations
 * and model forward calls run matrix products and convolutions in bf16 (or f16) and keep
 * precision-sensitive operations (reductions, normalisations, losses) in f32, while the parameters
 * stay in their own dtype (f32 master weights). The scope belongs to the Java thread that opens it.
 *
 * <pre>{@code
 * try (var amp = Autocast.bf16(); var rec = Autograd.record()) { ... }
 * }</pre>
 *
 * f16 needs a dynamic loss scale against gradient underflow; bf16 does not.
 */
public final class Autocast {
  private Autocast() {}

  /** Autocast to bf16 on this thread until the scope is closed. */
  public static ThreadScope bf16() {
    return new ThreadScope(ExecMode.set(ExecMode.AUTOCAST, ExecMode.AUTOCAST_BF16));
  }

  /** Autocast to f16 on this thread until the scope is closed. */
  public static ThreadScope f16() {
    return new ThreadScope(ExecMode.set(ExecMode.AUTOCAST, ExecMode.AUTOCAST_F16));
  }

  /** No autocast on this thread until the scope is closed (inside another autocast scope). */
  public static ThreadScope off() {
    return new ThreadScope(ExecMode.set(ExecMode.AUTOCAST, 0));
  }

  /** The dtype operations are autocast to on this thread now, or null when autocast is off. */
  public static DType current() {
    int bits = ExecMode.bits();
    if ((bits & ExecMode.AUTOCAST_BF16) != 0) return DType.BF16;
    if ((bits & ExecMode.AUTOCAST_F16) != 0) return DType.F16;
    return null;
  }
}
