package io.d2g;

/** Host or device memory ran out in native code (LibTorch's allocators). */
public class DeviceOutOfMemoryException extends D2gException {
  public DeviceOutOfMemoryException(String message) {
    super(2, message);
  }
}
