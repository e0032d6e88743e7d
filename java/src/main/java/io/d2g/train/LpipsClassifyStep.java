package io.d2g.train;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.LatentAugment;
import io.d2g.models.LatentLpips;
import io.d2g.nn.Linear;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The first half of making LatentLPIPS weights for a new latent space, as LPIPS was made: its VGG16-BN
 * trunk learns to classify latents, in one native call per step. Each batch is augmented with a fresh
 * draw of an E-LatentLPIPS preset (so the features hold up under the augmentations the distance will
 * see), the trunk runs with BatchNorm on batch statistics (its running statistics updated), its last tap
 * is averaged over positions and a {@link Linear} head gives the logits of one or more label sets
 * (concepts and styles for the emoji corpus); the loss sums their cross-entropies. The optimizer holds
 * the trunk's parameters ({@code net.*}, made to require grad: {@link #trunkParameters}) and the head's.
 * The lin heads are calibrated afterwards by {@link Lpips2afcStep}.
 */
public final class LpipsClassifyStep implements AutoCloseable {
  /** classes: the class count of each label set; preset: an augmentation preset or "none". */
  public record Options(int[] classes, String preset, boolean bf16, double maxGradNorm) {
    public Options {
      if (classes == null || classes.length == 0 || classes.length > 8)
        throw new InvalidArgumentException("classes must list 1 to 8 class counts");
      for (int n : classes) if (n < 2) throw new InvalidArgumentException("each label set needs at least 2 classes");
      classes = classes.clone();
      if (!"none".equals(preset) && !LatentAugment.PRESETS.contains(preset))
        throw new InvalidArgumentException("preset must be one of " + LatentAugment.PRESETS + " or none, not " + preset);
      if (!(maxGradNorm >= 0)) throw new InvalidArgumentException("maxGradNorm must be >= 0 (0: no clipping)");
    }

    /** The total of the class counts: the head's outputs. */
    public int outputs() {
      return Arrays.stream(classes).sum();
    }
  }

  /** The loss, the gradient norm before clipping, the first label set's top-1 accuracy, whether it stepped. */
  public record Metrics(double loss, double gradNorm, double accuracy, boolean stepped) {}

  private final NativeHandle handle;

  private LpipsClassifyStep(MemorySegment h) {
    this.handle = NativeHandle.trainStep(this, h);
  }

  /**
   * The trunk's parameters, switched to require grad (the head's and the lin heads' are not among
   * them), for the optimizer.
   */
  public static java.util.Map<String, Tensor> trunkParameters(LatentLpips lpips) {
    java.util.Map<String, Tensor> out = new java.util.LinkedHashMap<>();
    for (var e : lpips.state().entrySet()) {
      String name = e.getKey();
      boolean trunkParameter = name.startsWith("net.") && (name.endsWith(".weight") || name.endsWith(".bias"));
      if (trunkParameter) {
        e.getValue().requiresGrad(true);
        out.put(name, e.getValue());
      } else {
        e.getValue().close();
      }
    }
    return out;
  }

  /** A step that trains {@code lpips}'s trunk and {@code head} with {@code opt}. Keep both open while it lives. */
  public static LpipsClassifyStep create(LatentLpips lpips, Linear head, Optimizer opt, Options options) {
    String config = "classes=" + Arrays.stream(options.classes()).mapToObj(Integer::toString).collect(Collectors.joining(","))
        + "\npreset=" + options.preset() + "\nprecision=" + (options.bf16() ? "bf16" : "f32")
        + "\nmax_grad_norm=" + options.maxGradNorm();
    LpipsClassifyStep step = new LpipsClassifyStep(Native.trainStepCreate("lpips_classify", config, Access.handle(lpips),
        opt.handle(), MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL));
    try {
      Native.trainStepSetModule(step.handle.get("training step is closed"), "head", Access.handle(head));
    } catch (RuntimeException e) {
      step.close();
      throw e;
    }
    return step;
  }

  /**
   * One step: latents [B, C, H, W], labels integer [B, K] (one column per label set, -1 where a sample
   * has no label of that set), and the seed of this step's augmentation draw.
   */
  public Metrics run(Tensor latents, Tensor labels, long seed) {
    try (Tensor s = Tensor.of(new long[] {seed}, 1)) {
      double[] m = Native.trainStepRunInputs(handle.get("training step is closed"), Access.handle(latents),
          Access.handle(labels), Access.handle(s));
      return new Metrics(m[0], m[1], m[2], m[3] != 0);
    }
  }

  @Override
  public void close() {
    handle.close();
  }
}
