package io.d2g.train;

import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The processes of one training run, joined through PyTorch's c10d: Gloo moves CPU tensors, NCCL
 * CUDA tensors. Rank 0 serves the rendezvous at the master address and port; the others connect
 * there. Configured like torchrun: {@link #fromEnvironment} reads {@code MASTER_ADDR},
 * {@code MASTER_PORT}, {@code RANK}, {@code WORLD_SIZE} (and {@code LOCAL_RANK} for the GPU), which
 * {@code ./d2g launch} sets for the processes it starts, on one machine or on several.
 *
 * <p>Every collective waits at most the group's timeout: when a process dies or hangs, the others
 * fail with a {@link io.d2g.NativeIoException} instead of waiting for ever.
 */
public final class ProcessGroup implements AutoCloseable {
  /** The default time a collective or the rendezvous may take. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

  private final NativeHandle handle;
  private final int rank, worldSize;
  private final String backend;

  private ProcessGroup(MemorySegment h, String backend) {
    this.handle = NativeHandle.processGroup(this, h);
    int[] info = Native.processGroupInfo(h);
    this.rank = info[0];
    this.worldSize = info[1];
    this.backend = backend;
  }

  /** Joins a group: blocks until all {@code worldSize} processes have joined (or the timeout). */
  public static ProcessGroup join(String backend, String masterAddr, int masterPort, int rank, int worldSize,
      Duration timeout) {
    return new ProcessGroup(Native.processGroupCreate(backend, masterAddr, masterPort, rank, worldSize,
        timeout.toMillis()), backend);
  }

  /**
   * Joins the group that torchrun-style environment variables describe, with the backend for {@code
   * device} (gloo for the CPU, nccl for CUDA), or returns empty when {@code WORLD_SIZE} is unset or 1.
   * {@code D2G_DIST_TIMEOUT_S} overrides the timeout (seconds).
   */
  public static Optional<ProcessGroup> fromEnvironment(Device device) {
    return fromEnvironment(device, System.getenv());
  }

  static Optional<ProcessGroup> fromEnvironment(Device device, Map<String, String> env) {
    int world = intVar(env, "WORLD_SIZE", 1);
    if (world <= 1) return Optional.empty();
    int rank = intVar(env, "RANK", -1);
    String addr = env.getOrDefault("MASTER_ADDR", "127.0.0.1");
    int port = intVar(env, "MASTER_PORT", 29500);
    Duration timeout = Duration.ofSeconds(intVar(env, "D2G_DIST_TIMEOUT_S", (int) DEFAULT_TIMEOUT.toSeconds()));
    return Optional.of(join(device.isCuda() ? "nccl" : "gloo", addr, port, rank, world, timeout));
  }

  /** This process's GPU under the launcher: cuda:LOCAL_RANK (cuda:0 without it). */
  public static Device localCudaDevice() {
    return Device.cuda(intVar(System.getenv(), "LOCAL_RANK", 0));
  }

  private static int intVar(Map<String, String> env, String name, int dflt) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      if (dflt < 0) throw new InvalidArgumentException(name + " is not set (the launcher sets it: ./d2g launch)");
      return dflt;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new InvalidArgumentException(name + " must be an integer, not '" + v + "'");
    }
  }

  /** The backends this build has: "gloo" (needs Gloo's headers at build time), "nccl" (CUDA builds). */
  public static List<String> backends() {
    String s = Native.processGroupBackends();
    return s.isEmpty() ? List.of() : Arrays.asList(s.split(","));
  }

  MemorySegment handle() {
    return handle.get("process group is closed");
  }

  public int rank() {
    return rank;
  }

  public int worldSize() {
    return worldSize;
  }

  public String backend() {
    return backend;
  }

  /** In place: each tensor becomes the sum (or the mean) of its values on all ranks. */
  public void allReduce(List<Tensor> tensors, boolean average) {
    Native.allReduce(handle(), handles(tensors), average);
  }

  /** In place: each tensor takes rank {@code root}'s values. */
  public void broadcast(List<Tensor> tensors, int root) {
    Native.broadcast(handle(), handles(tensors), root);
  }

  /** Returns once every rank has called it. */
  public void barrier() {
    Native.barrier(handle());
  }

  private static MemorySegment[] handles(List<Tensor> tensors) {
    MemorySegment[] h = new MemorySegment[tensors.size()];
    for (int i = 0; i < h.length; i++) h[i] = Access.handle(tensors.get(i));
    return h;
  }

  @Override
  public void close() {
    handle.close();
  }
}
