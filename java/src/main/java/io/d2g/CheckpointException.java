package io.d2g;

/**
 * A checkpoint or model folder is malformed or cannot be used: a corrupt or truncated safetensors
 * file, an unsupported dtype, a pickle file, a missing config. The message names the file (and the
 * tensor or key, where there is one) and says what to fix.
 */
public class CheckpointException extends D2gException {
  public CheckpointException(String message) {
    super(-1, message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(-1, message, cause);
  }
}
