package io.d2g;

/** The requested device cannot be used: CUDA missing from this build, no such GPU, or no driver. */
public class DeviceUnavailableException extends D2gException {
  public DeviceUnavailableException(String message) {
    super(3, message);
  }
}
