package io.d2g.nn;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import java.lang.foreign.MemorySegment;
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
  static {
    Access.setModules(m -> m.handle.get(m.kind + " module is closed"));
  }

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
    boolean empty = EMPTY.isBound() && EMPTY.get();
    this.handle = NativeHandle.module(this, Native.moduleCreate(kind, config.toNative(), !empty));
  }

  /**
   * Runs {@code create} with every module it creates on this thread left uninitialised: parameters
   * are allocated but not filled (their contents are undefined) and nothing is drawn from the
   * random generator. For modules whose whole state is loaded right after, strictly, as
   * {@code DiffusersFolder.load} does; it saves the random initialisation, most of the time it takes
   * to create an SD-sized network on the CPU (benchmarks/results/module-init.json). (accelerate's
   * {@code init_empty_weights} does the same for PyTorch.)
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

  /** The configuration the native module was created from. */
  public ModuleConfig moduleConfig() {
    return config;
  }

  /** The native handle. Throws if closed. */
  private MemorySegment handle() {
    return handle.get(kind + " module is closed");
  }

  /** Moves parameters and buffers to a device; floating ones also take the dtype. */
  public NativeModule to(Device device, DType dtype) {
    Native.moduleTo(handle(), device, dtype);
    return this;
  }

  public NativeModule to(Device device) {
    Native.moduleTo(handle(), device, null);
    return this;
  }

  /** Stores convolution weights channels-last (NHWC) or contiguous; NHWC is faster on GPUs. */
  public NativeModule channelsLast(boolean channelsLast) {
    Native.moduleSetChannelsLast(handle(), channelsLast);
    return this;
  }

  /** Training mode (true) or evaluation mode (false). */
  public NativeModule train(boolean training) {
    Native.moduleSetTraining(handle(), training);
    return this;
  }

  public NativeModule eval() {
    return train(false);
  }

  /** Names of every parameter and buffer, in the module's order. */
  public List<String> stateNames() {
    return Native.moduleStateNames(handle());
  }

  /**
   * The state as named tensors sharing the module's memory (writing to them changes the weights).
   * The caller closes the tensors.
   */
  public Map<String, Tensor> state() {
    Native.StateEntries entries = Native.moduleState(handle(), true);
    Map<String, Tensor> state = new LinkedHashMap<>();
    for (int i = 0; i < entries.names().size(); i++)
      state.put(entries.names().get(i), Access.tensor(entries.tensors().get(i)));
    return state;
  }

  /**
   * The parameters (the trainable part of the state, without buffers) as named tensors that are the
   * module's own: they require grad unless frozen, {@link Tensor#grad()} shows what backward
   * accumulated, and writing to them changes the weights. The caller closes the tensors.
   */
  public Map<String, Tensor> parameters() {
    long count = Native.moduleParameterCount(handle());
    Map<String, Tensor> all = state();
    Map<String, Tensor> params = new LinkedHashMap<>();
    int i = 0;
    for (Map.Entry<String, Tensor> e : all.entrySet()) {
      if (i++ < count) params.put(e.getKey(), e.getValue());
      else e.getValue().close();
    }
    return params;
  }

  /** Number of parameters (the first entries of {@link #stateNames()}; buffers follow). */
  public long parameterCount() {
    return Native.moduleParameterCount(handle());
  }

  /** Whether backward computes gradients for every parameter (true from the start; false freezes). */
  public NativeModule requiresGrad(boolean requiresGrad) {
    Native.moduleSetRequiresGrad(handle(), requiresGrad);
    return this;
  }

  /** Drops every parameter's gradient. */
  public void zeroGrad() {
    Native.moduleZeroGrad(handle());
  }

  /**
   * Copies named tensors into the state (converting dtype and device). Strict: missing and
   * unexpected keys are errors too. All problems come back together in one {@link
   * InvalidArgumentException}; nothing is copied then.
   */
  public void loadState(Map<String, Tensor> tensors, boolean strict) {
    List<String> names = new ArrayList<>(tensors.size());
    List<MemorySegment> handles = new ArrayList<>(tensors.size());
    tensors.forEach((k, v) -> {
      names.add(k);
      handles.add(Access.handle(v));
    });
    Native.moduleLoadState(handle(), names, handles, strict);
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
