package io.d2g;

/** A file could not be read or written by native code. */
public class NativeIoException extends D2gException {
  public NativeIoException(String message) {
    super(5, message);
  }
}
