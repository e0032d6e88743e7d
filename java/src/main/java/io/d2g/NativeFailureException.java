package io.d2g;

/** Any other failure inside LibTorch or the native shim. */
public class NativeFailureException extends D2gException {
  public NativeFailureException(String message) {
    super(4, message);
  }
}
