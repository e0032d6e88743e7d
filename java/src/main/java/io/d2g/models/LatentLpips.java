package io.d2g.models;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * LatentLPIPS: a perceptual distance computed on latents, with no decode to pixels — the network of
 * E-LatentLPIPS (Diffusion2GAN's regression loss), in the official code's layout (a VGG16-BN trunk whose
 * first convolution takes the latent channels and whose first three max-pools are removed; five taps;
 * unit-normalised squared differences weighed by 1×1 "lin" heads, averaged over positions and summed).
 * Its weights load by the official names ({@code net.slice1.0.weight}, {@code lin0.model.1.weight}, ...),
 * so a converted official checkpoint works unchanged. Its parameters never require grad: it is a loss
 * for other networks. Calls record an autograd graph only inside {@link io.d2g.Autograd#record()}, and
 * then differentiate with respect to the latents.
 */
public final class LatentLpips extends NativeModule implements DiffusersModel {
  /** The family, for loaders ({@code io.d2g.hub.DiffusersFolder.load}). */
  public static final ModelFamily<LatentLpips> FAMILY =
      new ModelFamily<>("LatentLPIPS", json -> new LatentLpips(LatentLpipsConfig.fromJson(json)));

  private final LatentLpipsConfig config;

  public LatentLpips(LatentLpipsConfig config) {
    super("latent_lpips", config.toModuleConfig());
    this.config = config;
  }

  public LatentLpipsConfig config() {
    return config;
  }

  /**
   * Distances [B] between two batches of latents [B, latent_channels, H, W] of one shape (H and W
   * multiples of 4), already scaled as the diffusion model sees them.
   */
  public Tensor distance(Tensor x0, Tensor x1) {
    return Access.tensor(Native.lpipsDistance(Access.handle(this), Access.handle(x0), Access.handle(x1)));
  }

  /**
   * E-LatentLPIPS: distances [B] after one fresh augmentation of {@code preset} ({@link
   * LatentAugment#PRESETS}; the paper's default "bg") drawn from {@code gen} (on this module's device;
   * null: that device's default generator) and applied alike to both batches. Every call draws anew, so
   * the ensemble's expectation is taken over training steps, as the official code does.
   */
  public Tensor distance(Tensor x0, Tensor x1, String preset, io.d2g.Generator gen) {
    return Access.tensor(Native.lpipsDistanceEnsemble(Access.handle(this), Access.handle(x0), Access.handle(x1), preset,
        gen == null ? MemorySegment.NULL : Access.handle(gen)));
  }

  /**
   * The distances and their gradient with respect to {@code x0} in one native call (a regression loss
   * whose gradient goes to another network's backward, or a latent optimised against it): {@code
   * preset} "none" for plain LatentLPIPS ({@code gen} unused), else E-LatentLPIPS with one fresh draw
   * from {@code gen}, as {@link #distance(Tensor, Tensor, String, io.d2g.Generator)}. The gradient is
   * d(sum of the distances) / d x0, whatever {@link io.d2g.Autograd} records; autocast applies as to
   * the other calls. {@code cudaGraph} (CUDA only, ignored elsewhere): the forward and backward run as
   * one CUDA graph, captured by the first call of a shape, dtype, preset and autocast state and
   * replayed by later calls of the same (one graph kept per module; its augmentation pads fixed, see
   * {@link LatentLpipsConfig#fixedAugmentPadding()}, and the draws are made before each replay).
   */
  public DistanceAndGrad distanceAndGrad(Tensor x0, Tensor x1, String preset, io.d2g.Generator gen, boolean cudaGraph) {
    MemorySegment[] out = Native.lpipsDistanceGrad(Access.handle(this), Access.handle(x0), Access.handle(x1), preset,
        gen == null ? MemorySegment.NULL : Access.handle(gen), cudaGraph);
    return new DistanceAndGrad(Access.tensor(out[0]), Access.tensor(out[1]));
  }

  /** Distances [B] and their gradient with respect to the first input (its shape); closing closes both. */
  public record DistanceAndGrad(Tensor distance, Tensor grad) implements AutoCloseable {
    @Override
    public void close() {
      distance.close();
      grad.close();
    }
  }

  /** The trunk's five taps for a batch of latents (the caller closes them). */
  public List<Tensor> features(Tensor latents) {
    List<Tensor> out = new ArrayList<>(5);
    for (MemorySegment h : Native.lpipsFeatures(Access.handle(this), Access.handle(latents))) out.add(Access.tensor(h));
    return out;
  }

  @Override
  public String library() {
    return "d2g";
  }

  @Override
  public String className() {
    return "LatentLPIPS";
  }


  @Override
  public ObjectNode configJson() {
    return config.toJson();
  }
}
