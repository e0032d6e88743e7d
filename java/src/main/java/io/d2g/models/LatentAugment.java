package io.d2g.models;

import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The augmentation that makes LatentLPIPS E-LatentLPIPS: one random differentiable transform applied
 * alike to both inputs of the distance (the official code's AdaAugment at probability 1). This applies
 * given parameters ({@link Params}); each part is skipped when its parameter is null.
 *
 * <ul>
 *   <li>geometric: {@code gInv} [B, 3, 3] maps output pixel centres to input ones (x right, y down,
 *       origin at the centre); the inputs are reflect-padded, upsampled 2x with the sym6 lowpass,
 *       resampled bilinearly and downsampled back, as StyleGAN2-ADA's pipeline does;
 *   <li>colour, each a [B] draw u in [0, 1): brightness x + (u − ½), contrast around each sample's mean
 *       by u + ½, saturation around the channel mean by 2u;
 *   <li>cutout: {@code cutoutCenter} [B, 2] in [0, 1) and {@code cutoutSize} [B]: the square zeroed.
 * </ul>
 */
public final class LatentAugment {
  private LatentAugment() {}

  /** The parameters of one draw (any may be null: that part is skipped). */
  public record Params(Tensor gInv, Tensor brightness, Tensor contrast, Tensor saturation, Tensor cutoutCenter,
      Tensor cutoutSize) {}

  /** The two inputs [B, C, H, W] (one shape) transformed alike; the caller closes both results. */
  public static List<Tensor> apply(Tensor x0, Tensor x1, Params p) {
    Tensor[] given = {p.gInv(), p.brightness(), p.contrast(), p.saturation(), p.cutoutCenter(), p.cutoutSize()};
    MemorySegment[] h = new MemorySegment[given.length];
    for (int i = 0; i < given.length; i++) h[i] = given[i] == null ? null : Access.handle(given[i]);
    MemorySegment[] out = Native.lpipsAugment(Access.handle(x0), Access.handle(x1), h);
    return List.of(Access.tensor(out[0]), Access.tensor(out[1]));
  }
}
