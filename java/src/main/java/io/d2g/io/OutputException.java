package io.d2g.io;

import io.d2g.D2gException;

/**
 * An output could not be written where it was asked for: the place holds something that is not an
 * earlier output of the same kind, is a protected folder (the file system's root, the home folder,
 * the working folder or one of their parents), is read-only, or the disk filled up. Whatever was
 * there before is left as it was; the message names the path and says what to do.
 */
public class OutputException extends D2gException {
  public OutputException(String message) {
    super(-1, message);
  }

  public OutputException(String message, Throwable cause) {
    super(-1, message, cause);
  }
}
