package io.d2g.nn;

import static io.d2g.bindings.d2g_h.d2g_linear_forward;

import io.d2g.Tensor;
import io.d2g.internal.Native;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

/** y = x Wᵀ + b, like torch.nn.Linear (state keys "weight", "bias"). */
public final class Linear extends NativeModule {
  public Linear(long inFeatures, long outFeatures, boolean bias) {
    super("linear", ModuleConfig.of(Map.of("in_features", inFeatures, "out_features", outFeatures, "bias", bias)));
  }

  public Tensor forward(Tensor x) {
    MemorySegment out = Native.scratch();
    Native.check(d2g_linear_forward(handle(), x.handle(), out));
    return Tensor.adopt(out.get(ValueLayout.ADDRESS, 0));
  }
}
