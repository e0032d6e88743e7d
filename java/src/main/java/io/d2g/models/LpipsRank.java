package io.d2g.models;

import io.d2g.nn.ModuleConfig;
import io.d2g.nn.NativeModule;
import java.util.Map;

/**
 * The ranking head that LPIPS's calibration trains alongside its lin heads (the official code's
 * {@code Dist2LogitLayer}): from the distances d0, d1 of two distortions to a reference it gives the
 * logit that the second is judged the closer, through 1×1 convolutions 5 → mid → mid → 1 with
 * LeakyReLU(0.2) on (d0, d1, d0 − d1, d0 / (d1 + 0.1), d1 / (d0 + 0.1)). It lives only while {@link
 * io.d2g.train.Lpips2afcStep} calibrates a {@link LatentLpips}; the distance never uses it.
 */
public final class LpipsRank extends NativeModule {
  /** A ranking head with {@code mid} hidden channels (LPIPS: 32). */
  public LpipsRank(int mid) {
    super("lpips_rank", ModuleConfig.of(Map.of("mid", mid)));
  }
}
