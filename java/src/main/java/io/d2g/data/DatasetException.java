package io.d2g.data;

/** A dataset could not be fetched, verified, built or read. The message says what to do about it. */
public class DatasetException extends RuntimeException {
  public DatasetException(String message) {
    super(message);
  }

  public DatasetException(String message, Throwable cause) {
    super(message, cause);
  }
}
