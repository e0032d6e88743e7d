package io.d2g.internal;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;

/**
 * One owned native handle, as a C API create returns it, freed exactly once with its {@code _free}:
 * by the owner's {@code close()} (which calls {@link #close}) or, for an owner that was forgotten,
 * by the library's one {@link Cleaner}. {@link #close} runs the free at most once however often and
 * from however many threads it is called.
 *
 * <p>This object is the cleaning action, so it keeps no reference to its owner. Not public API.
 */
public final class NativeHandle implements Runnable {
  /** The C API's {@code _free} for this kind of handle. */
  @FunctionalInterface
  interface Free {
    void free(MemorySegment handle);
  }

  private static final Cleaner CLEANER = Cleaner.create();

  private volatile MemorySegment address;
  private final Free free;
  private final Cleaner.Cleanable cleanable;

  /** A tensor handle owned by {@code owner}. */
  public static NativeHandle tensor(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::tensorFree);
  }

  /** A module handle owned by {@code owner}. */
  public static NativeHandle module(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::moduleFree);
  }

  /** A generator handle owned by {@code owner}. */
  public static NativeHandle generator(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::generatorFree);
  }

  /** An optimizer handle owned by {@code owner}. */
  public static NativeHandle optimizer(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::optimizerFree);
  }

  /** A parameter-average handle owned by {@code owner}. */
  public static NativeHandle ema(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::emaFree);
  }

  /** A process-group handle owned by {@code owner}. */
  public static NativeHandle processGroup(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::processGroupFree);
  }

  /** A data-parallel handle owned by {@code owner}. */
  public static NativeHandle dataParallel(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::dataParallelFree);
  }

  /** A training-step handle owned by {@code owner}. */
  public static NativeHandle trainStep(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::trainStepFree);
  }

  /** A one-step pipeline handle owned by {@code owner}. */
  public static NativeHandle onestep(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::onestepFree);
  }

  /** A guided sampler handle owned by {@code owner}. */
  public static NativeHandle guidedSampler(Object owner, MemorySegment address) {
    return new NativeHandle(owner, address, Native::guidedSamplerFree);
  }

  /** Takes ownership of {@code address} for {@code owner}: freed when closed or when the owner becomes unreachable. */
  private NativeHandle(Object owner, MemorySegment address, Free free) {
    this.address = address;
    this.free = free;
    this.cleanable = CLEANER.register(owner, this);
  }

  /** The handle, for passing to the C API; {@code IllegalStateException(closedMessage)} after close. */
  public MemorySegment get(String closedMessage) {
    MemorySegment a = address;
    if (a.address() == 0) throw new IllegalStateException(closedMessage);
    return a;
  }

  public boolean isClosed() {
    return address.address() == 0;
  }

  /** Frees the handle now; later calls do nothing. */
  public void close() {
    cleanable.clean();
  }

  /** The cleaning action: frees the handle. Called once, through the Cleanable. */
  @Override
  public void run() {
    MemorySegment a = address;
    address = MemorySegment.NULL;
    if (a.address() != 0) free.free(a);
  }
}
