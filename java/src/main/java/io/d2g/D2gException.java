package io.d2g;

/**
 * Base of every error the native shim reports. Unchecked: callers handle what they can fix and let
 * the rest propagate. The message is the native message, which says what went wrong and what to do.
 */
public class D2gException extends RuntimeException {
  /** The d2g_code reported by the C API (see native/include/d2g.h), or -1 for Java-side errors. */
  private final int code;

  public D2gException(int code, String message) {
    super(message);
    this.code = code;
  }

  public D2gException(int code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** The native status code (1 invalid argument, 2 out of memory, 3 device unavailable, 4 failure, 5 I/O). */
  public int code() {
    return code;
  }
}
