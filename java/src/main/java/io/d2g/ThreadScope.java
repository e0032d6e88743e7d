package io.d2g;

import io.d2g.internal.ExecMode;

/**
 * A setting of the calling thread ({@link Autograd#record()}, {@link Autocast#bf16()}, ...) that lasts
 * until this is closed, which restores what was in force before. Close it on the thread that opened
 * it (try-with-resources does).
 */
public final class ThreadScope implements AutoCloseable {
  private final ExecMode.Scope scope;

  ThreadScope(ExecMode.Scope scope) {
    this.scope = scope;
  }

  @Override
  public void close() {
    scope.close();
  }
}
