package io.d2g.data.npm;

import io.d2g.data.DatasetException;

/** A downloaded package does not match its expected Subresource-Integrity hash. Nothing was written. */
public final class IntegrityException extends DatasetException {
  public IntegrityException(String message) {
    super(message);
  }
}
