package io.d2g;

/** The native shim (libd2g) or the LibTorch it needs could not be loaded. The message says how to fix it. */
public class LibraryLoadException extends D2gException {
  public LibraryLoadException(String message, Throwable cause) {
    super(-1, message, cause);
  }
}
