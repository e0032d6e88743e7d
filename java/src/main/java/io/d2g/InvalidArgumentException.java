package io.d2g;

/** An argument was wrong: a shape, dtype, device, size or value. The message names it and what to fix. */
public class InvalidArgumentException extends D2gException {
  public InvalidArgumentException(String message) {
    super(1, message);
  }
}
