package io.d2g.internal;

import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;

/**
 * The native handles behind the public types, for the library's own packages: turning a new handle
 * into a {@link Tensor} and reading the handle of a tensor, module or generator. The public classes
 * register their accessors here when they are initialised, so that none of this is public API on
 * them. Not public API: the module does not export this package.
 */
public final class Access {
  private Access() {}

  /** What {@link Tensor} gives the library. */
  public interface Tensors {
    Tensor adopt(MemorySegment handle);

    MemorySegment handle(Tensor t);
  }

  /** What a class with a native handle gives the library. */
  @FunctionalInterface
  public interface Handles<T> {
    MemorySegment handle(T owner);
  }

  private static volatile Tensors tensors;
  private static volatile Handles<NativeModule> modules;
  private static volatile Handles<Generator> generators;

  public static void setTensors(Tensors a) {
    tensors = a;
  }

  public static void setModules(Handles<NativeModule> a) {
    modules = a;
  }

  public static void setGenerators(Handles<Generator> a) {
    generators = a;
  }

  /** Takes ownership of a new tensor handle. */
  public static Tensor tensor(MemorySegment handle) {
    if (tensors == null) initialise(Tensor.class);
    return tensors.adopt(handle);
  }

  /** A tensor's handle (IllegalStateException when it is closed). */
  public static MemorySegment handle(Tensor t) {
    if (tensors == null) initialise(Tensor.class);
    return tensors.handle(t);
  }

  /** A module's handle (IllegalStateException when it is closed). */
  public static MemorySegment handle(NativeModule m) {
    if (modules == null) initialise(NativeModule.class);
    return modules.handle(m);
  }

  /** A generator's handle, or NULL for none (the device's default generator). */
  public static MemorySegment handle(Generator g) {
    if (g == null) return MemorySegment.NULL;
    if (generators == null) initialise(Generator.class);
    return generators.handle(g);
  }

  private static void initialise(Class<?> c) {
    try {
      MethodHandles.lookup().ensureInitialized(c);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }
}
