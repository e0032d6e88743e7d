package io.d2g.internal;

import static io.d2g.bindings.d2g_h.*;

import io.d2g.D2gException;
import io.d2g.DeviceOutOfMemoryException;
import io.d2g.DeviceUnavailableException;
import io.d2g.InvalidArgumentException;
import io.d2g.NativeFailureException;
import io.d2g.NativeIoException;
import io.d2g.bindings.d2g_h;
import io.d2g.bindings.d2g_release_fn;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The glue between the jextract bindings ({@link d2g_h}) and the idiomatic API: loads the library,
 * turns status objects into typed exceptions, and owns the few pieces of FFM plumbing (scratch
 * memory for out-parameters, heap-array copies, the release callback for borrowed memory).
 *
 * <p>Not public API.
 */
public final class Native {
  private Native() {}

  /**
   * Loads the native library unless it is loaded already (a volatile read then). Called before the
   * first native call of every entry point, so that a missing library surfaces as a {@link
   * io.d2g.LibraryLoadException} at the call, every time, rather than as an error while a class is
   * initialised (which Java turns into ExceptionInInitializerError once, NoClassDefFoundError after).
   */
  public static void load() {
    NativeLibrary.load();
  }

  /** Throws the typed exception for a non-NULL status, after freeing it. */
  public static void check(MemorySegment status) {
    if (status.address() != 0) throw toException(status);
  }

  private static D2gException toException(MemorySegment status) {
    int code;
    String message;
    try {
      code = d2g_status_code(status);
      message = d2g_status_message(status).reinterpret(Long.MAX_VALUE).getString(0);
    } finally {
      d2g_status_free(status);
    }
    return switch (code) {
      case 1 -> new InvalidArgumentException(message);
      case 2 -> new DeviceOutOfMemoryException(message);
      case 3 -> new DeviceUnavailableException(message);
      case 5 -> new NativeIoException(message);
      default -> new NativeFailureException(message);
    };
  }

  /** A static C string returned by the library. */
  public static String string(MemorySegment cString) {
    return cString.reinterpret(Long.MAX_VALUE).getString(0);
  }

  // ---- scratch memory for out-parameters ---------------------------------------------------

  /**
   * 512 bytes of native memory private to the calling Java thread (virtual threads included: the
   * memory follows the Java thread, not the carrier), for out-parameters and small argument arrays.
   * Valid until the thread's next call that uses it; never handed to native code that keeps it.
   */
  public static MemorySegment scratch() {
    NativeLibrary.load();
    return SCRATCH.get();
  }

  private static final ThreadLocal<MemorySegment> SCRATCH =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(512, 16));

  /** Writes shape into scratch (from byte offset 256) and returns that slice. */
  public static MemorySegment shapeArg(long[] shape) {
    if (shape.length > 16)
      throw new InvalidArgumentException("a tensor may have at most 16 dimensions, got " + shape.length);
    MemorySegment s = scratch().asSlice(256, 8L * 16);
    MemorySegment.copy(shape, 0, s, ValueLayout.JAVA_LONG, 0, shape.length);
    return s;
  }

  // ---- heap array copies (one copy, no staging buffer) --------------------------------------

  /** Critical downcalls for heap copies, looked up once the library is loaded (by the first use). */
  private static final class Critical {
    static final MethodHandle COPY_FROM_HOST = critical(
        d2g_tensor_copy_from_host$address(), d2g_tensor_copy_from_host$descriptor());
    static final MethodHandle COPY_TO_HOST = critical(
        d2g_tensor_copy_to_host$address(), d2g_tensor_copy_to_host$descriptor());

    private static MethodHandle critical(MemorySegment address, java.lang.foreign.FunctionDescriptor desc) {
      return Linker.nativeLinker().downcallHandle(address, desc, Linker.Option.critical(true));
    }
  }

  /** Copies a heap or native segment into a tensor of exactly that many bytes. */
  public static void copyFromHost(MemorySegment tensor, MemorySegment data) {
    try {
      check((MemorySegment) Critical.COPY_FROM_HOST.invokeExact(tensor, data, data.byteSize()));
    } catch (D2gException e) {
      throw e;
    } catch (Throwable t) {
      throw new NativeFailureException("copy into tensor failed: " + t);
    }
  }

  /** Copies a tensor of exactly {@code data.byteSize()} bytes into a heap or native segment. */
  public static void copyToHost(MemorySegment tensor, MemorySegment data) {
    try {
      check((MemorySegment) Critical.COPY_TO_HOST.invokeExact(tensor, data, data.byteSize()));
    } catch (D2gException e) {
      throw e;
    } catch (Throwable t) {
      throw new NativeFailureException("copy out of tensor failed: " + t);
    }
  }

  // ---- borrowed memory: keeping the owner alive until LibTorch lets go ------------------------

  private static final ConcurrentHashMap<Long, Object> BORROWED = new ConcurrentHashMap<>();
  private static final AtomicLong NEXT_ID = new AtomicLong(1);

  /** The release callback handed to d2g_tensor_from_blob: drops the keep-alive of one borrow. */
  public static final MemorySegment RELEASE_CALLBACK =
      d2g_release_fn.allocate(Native::release, Arena.global());

  private static void release(MemorySegment context) {
    // Runs on whatever thread drops the last reference; must never throw into native code.
    try {
      BORROWED.remove(context.address());
    } catch (Throwable ignored) {
      // nothing sensible to do; the entry stays, which only delays collection
    }
  }

  /** Registers an owner to keep reachable; returns the context to pass with {@link #RELEASE_CALLBACK}. */
  public static MemorySegment borrow(Object owner) {
    long id = NEXT_ID.getAndIncrement();
    BORROWED.put(id, owner);
    return MemorySegment.ofAddress(id);
  }

  /** Undoes {@link #borrow} when the native call that would have taken it failed. */
  public static void unborrow(MemorySegment context) {
    BORROWED.remove(context.address());
  }

  /** How many borrowed memory owners are still in use by native tensors (for tests and leak checks). */
  public static int borrowedCount() {
    return BORROWED.size();
  }
}
