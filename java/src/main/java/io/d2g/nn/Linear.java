package io.d2g.nn;

import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import java.util.Map;

/** y = x Wᵀ + b, like torch.nn.Linear (state keys "weight", "bias"). */
public final class Linear extends NativeModule {
  public Linear(long inFeatures, long outFeatures, boolean bias) {
    super("linear", ModuleConfig.of(Map.of("in_features", inFeatures, "out_features", outFeatures, "bias", bias)));
  }

  public Tensor forward(Tensor x) {
    return Access.tensor(Native.linearForward(Access.handle(this), Access.handle(x)));
  }
}
