package io.d2g.train;

import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * An exponential moving average of a module's parameters, updated after each optimizer step:
 * {@code shadow = decay * shadow + (1 - decay) * parameter}, on the parameters' device in f32. The
 * average is what a trained generator is usually evaluated and shipped with ({@link #copyToModule}).
 */
public final class Ema implements AutoCloseable {
  private final NativeHandle handle;

  private Ema(MemorySegment h) {
    this.handle = NativeHandle.ema(this, h);
  }

  /** An average of {@code module}'s parameters, starting as a copy of them. */
  public static Ema of(NativeModule module) {
    return new Ema(Native.emaCreate(Access.handle(module)));
  }

  MemorySegment handle() {
    return handle.get("EMA is closed");
  }

  /** Moves every average towards its parameter: shadow += (1 - decay) * (parameter - shadow). */
  public void update(double decay) {
    Native.emaUpdate(handle(), decay);
  }

  /** Writes the averages into the module's parameters. */
  public void copyToModule() {
    Native.emaCopyToModule(handle());
  }

  /** The averages, named like the parameters (sharing memory). The caller closes them. */
  public Map<String, Tensor> state() {
    return NamedTensors.adopt(Native.emaState(handle()));
  }

  /** Replaces every average (each parameter's name once). */
  public void loadState(Map<String, Tensor> state) {
    NamedTensors.pass(state, (names, handles) -> Native.emaLoadState(handle(), names, handles));
  }

  @Override
  public void close() {
    handle.close();
  }
}
