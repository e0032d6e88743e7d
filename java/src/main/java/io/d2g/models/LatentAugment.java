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

  /** The presets: letters of b (pixel blitting), g (general geometric), c (colour), o (cutout). */
  public static final List<String> PRESETS = List.of("b", "g", "c", "o", "co", "bg", "bgc", "bgco");

  /**
   * Fresh parameters for a batch of shape [b, c, h, w], as the official pipeline draws them at
   * probability 1, from {@code gen} (on its device; null: the default CPU generator). b: x-flip, quarter
   * turns, integer translation up to 1/8 of a side; g: scale 2^N(0, 0.2²), rotation uniform in (−π, π]
   * before and after an anisotropic scale 2^N(0, 0.2²), translation N(0, 0.125²) of a side; c: uniform
   * draws for brightness, contrast, saturation; o: a cutout of half the side at a uniform centre.
   */
  public static Params draw(String preset, long[] shape, io.d2g.Generator gen) {
    if (!PRESETS.contains(preset))
      throw new io.d2g.InvalidArgumentException("unknown augmentation preset '" + preset + "' (" + PRESETS + ")");
    if (shape.length != 4) throw new io.d2g.InvalidArgumentException("a batch shape is [B, C, H, W]");
    MemorySegment[] h = Native.lpipsAugmentDraw(preset, shape[0], shape[1], shape[2], shape[3],
        gen == null ? MemorySegment.NULL : Access.handle(gen));
    Tensor[] t = new Tensor[6];
    for (int i = 0; i < 6; i++) t[i] = h[i].equals(MemorySegment.NULL) ? null : Access.tensor(h[i]);
    return new Params(t[0], t[1], t[2], t[3], t[4], t[5]);
  }

  /** The two inputs [B, C, H, W] (one shape) transformed alike; the caller closes both results. */
  public static List<Tensor> apply(Tensor x0, Tensor x1, Params p) {
    Tensor[] given = {p.gInv(), p.brightness(), p.contrast(), p.saturation(), p.cutoutCenter(), p.cutoutSize()};
    MemorySegment[] h = new MemorySegment[given.length];
    for (int i = 0; i < given.length; i++) h[i] = given[i] == null ? null : Access.handle(given[i]);
    MemorySegment[] out = Native.lpipsAugment(Access.handle(x0), Access.handle(x1), h);
    return List.of(Access.tensor(out[0]), Access.tensor(out[1]));
  }
}
