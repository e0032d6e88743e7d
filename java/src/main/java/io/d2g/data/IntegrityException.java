package io.d2g.data;

/** A downloaded package does not match its expected Subresource-Integrity hash. Nothing was written. */
public final class IntegrityException extends DatasetException {
  public IntegrityException(String message) {
    super(message);
  }
}
