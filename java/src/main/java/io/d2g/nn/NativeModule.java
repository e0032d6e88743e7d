package io.d2g.nn;

import static io.d2g.bindings.d2g_h.*;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.bindings.d2g_h;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A network held by the native shim (one d2g_module handle): a model family's parameters and
 * buffers, named like the reference checkpoints' keys. Model families (UNet, VAE, text encoder...)
 * extend this with their forward calls. Close it when done; a Cleaner frees forgotten ones.
 */
public class NativeModule implements AutoCloseable {
  /** Bound (to true) while {@link #withoutInit} runs its action. */
  private static final ScopedValue<Boolean> EMPTY = ScopedValue.newInstance();

  private final String kind;
  private final ModuleConfig config;
  private final NativeHandle handle;

  /**
   * Creates a module of a registered native kind ("linear", "unet2d_condition", ...), its
   * parameters initialised as torch.nn initialises them (from the seeded generator), unless
   * created inside {@link #withoutInit}.
   */
  protected NativeModule(String kind, ModuleConfig config) {
    this.kind = kind;
    this.config = config;
    MemorySegment out = Native.scratch();
    boolean empty = EMPTY.isBound() && EMPTY.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment k = arena.allocateFrom(kind), c = arena.allocateFrom(config.toNative());
      Native.check(empty ? d2g_module_create_empty(k, c, out) : d2g_module_create(k, c, out));
    }
    this.handle = new NativeHandle(this, out.get(ValueLayout.ADDRESS, 0), d2g_h::d2g_module_free);
  }

  /**
   * Runs {@code create} with every module it creates on this thread left uninitialised: parameters
   * are allocated but not filled (their contents are undefined) and nothing is drawn from the
   * random generator. For modules whose whole state is loaded right after, strictly, as
   * {@code DiffusersFolder.load} does; it saves the random initialisation, about 9 s for the
   * SD1.5 UNet on one CPU core. (accelerate's {@code init_empty_weights} does the same for PyTorch.)
   */
  public static <T> T withoutInit(Supplier<T> create) {
    return ScopedValue.where(EMPTY, Boolean.TRUE).call(create::get);
  }

  /** A module of any registered kind, without a typed forward. */
  public static NativeModule create(String kind, ModuleConfig config) {
    return new NativeModule(kind, config);
  }

  public String kind() {
    return kind;
  }

  public ModuleConfig config() {
    return config;
  }

  /** The native handle, for the C API. Throws if closed. */
  public MemorySegment handle() {
    return handle.get(kind + " module is closed");
  }

  /** Moves parameters and buffers to a device; floating ones also take the dtype. */
  public NativeModule to(Device device, DType dtype) {
    Native.check(d2g_module_to(handle(), device.type() == Device.Type.CUDA ? 1 : 0, device.index(), dtype.code()));
    return this;
  }

  public NativeModule to(Device device) {
    Native.check(d2g_module_to(handle(), device.type() == Device.Type.CUDA ? 1 : 0, device.index(), -1));
    return this;
  }

  /** Stores convolution weights channels-last (NHWC) or contiguous; NHWC is faster on GPUs. */
  public NativeModule channelsLast(boolean channelsLast) {
    Native.check(d2g_module_set_channels_last(handle(), channelsLast ? 1 : 0));
    return this;
  }

  /** Training mode (true) or evaluation mode (false). */
  public NativeModule train(boolean training) {
    Native.check(d2g_module_set_training(handle(), training ? 1 : 0));
    return this;
  }

  public NativeModule eval() {
    return train(false);
  }

  /** Names of every parameter and buffer, in the module's order. */
  public List<String> stateNames() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_module_state_size(handle(), out));
    long n = out.get(ValueLayout.JAVA_LONG, 0);
    List<String> names = new ArrayList<>((int) n);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(1024);
      for (long i = 0; i < n; i++) {
        Native.check(d2g_module_state_entry(handle(), i, buf, buf.byteSize(), MemorySegment.NULL));
        names.add(buf.getString(0));
      }
    }
    return names;
  }

  /**
   * The state as named tensors sharing the module's memory (writing to them changes the weights).
   * The caller closes the tensors.
   */
  public Map<String, Tensor> state() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_module_state_size(handle(), out));
    long n = out.get(ValueLayout.JAVA_LONG, 0);
    Map<String, Tensor> state = new LinkedHashMap<>();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(1024);
      MemorySegment t = arena.allocate(ValueLayout.ADDRESS);
      for (long i = 0; i < n; i++) {
        Native.check(d2g_module_state_entry(handle(), i, buf, buf.byteSize(), t));
        state.put(buf.getString(0), Tensor.adopt(t.get(ValueLayout.ADDRESS, 0)));
      }
    }
    return state;
  }

  /**
   * Copies named tensors into the state (converting dtype and device). Strict: missing and
   * unexpected keys are errors too. All problems come back together in one {@link
   * InvalidArgumentException}; nothing is copied then.
   */
  public void loadState(Map<String, Tensor> tensors, boolean strict) {
    try (Arena arena = Arena.ofConfined()) {
      int n = tensors.size();
      MemorySegment names = arena.allocate(ValueLayout.ADDRESS, Math.max(1, n));
      MemorySegment handles = arena.allocate(ValueLayout.ADDRESS, Math.max(1, n));
      int i = 0;
      for (var e : tensors.entrySet()) {
        names.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(e.getKey()));
        handles.setAtIndex(ValueLayout.ADDRESS, i, e.getValue().handle());
        i++;
      }
      Native.check(d2g_module_load_state(handle(), names, handles, n, strict ? 1 : 0));
    }
  }

  @Override
  public void close() {
    handle.close();
  }

  @Override
  public String toString() {
    return kind + " " + config;
  }
}
