package io.d2g.train;

import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;

/**
 * Data-parallel training of a module across a {@link ProcessGroup}, as PyTorch's
 * DistributedDataParallel does it: at creation every rank takes rank 0's weights; during each
 * backward the gradients are averaged across ranks in buckets, each sent as soon as its gradients are
 * ready while backward goes on. Each rank trains on its own part of the batch:
 *
 * <pre>{@code
 * try (ProcessGroup group = ProcessGroup.fromEnvironment(Device.CPU).orElseThrow();
 *      DataParallel ddp = DataParallel.of(group, unet)) {
 *   ... loss.backward() on this rank's part of the batch ...
 *   ddp.finish();              // gradients averaged across ranks
 *   opt.clipGradNorm(1.0);
 *   opt.step();
 * }
 * }</pre>
 */
public final class DataParallel implements AutoCloseable {
  /** PyTorch DDP's default bucket size. */
  public static final double DEFAULT_BUCKET_MB = 25;

  private final NativeHandle handle;
  private final ProcessGroup group;

  private DataParallel(ProcessGroup group, MemorySegment h) {
    this.group = group;
    this.handle = NativeHandle.dataParallel(this, h);
  }

  /** Every rank's module takes rank 0's parameters and buffers; buckets of 25 MiB. */
  public static DataParallel of(ProcessGroup group, NativeModule module) {
    return of(group, module, DEFAULT_BUCKET_MB);
  }

  public static DataParallel of(ProcessGroup group, NativeModule module, double bucketMb) {
    return new DataParallel(group, Native.dataParallelCreate(group.handle(), Access.handle(module), bucketMb));
  }

  MemorySegment handle() {
    return handle.get("data parallel is closed");
  }

  public ProcessGroup group() {
    return group;
  }

  /**
   * After backward, before clipping and the optimizer step: waits for every bucket and leaves each
   * parameter's gradient averaged across ranks (a parameter this rank gave no gradient counts as
   * zeros).
   */
  public void finish() {
    Native.dataParallelFinish(handle.get("data parallel is closed"));
  }

  @Override
  public void close() {
    handle.close();
  }
}
