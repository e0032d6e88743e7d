package io.d2g.train;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.ContrastiveModel;
import io.d2g.models.ImageTextJudge;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;

/**
 * The whole training step of a contrastive text–image model ({@link ImageTextJudge}, {@link
 * io.d2g.models.ClipModel}) in one native call: CLIP's symmetric contrastive loss
 * over a batch of (image, caption) pairs — {@code logits = exp(logit_scale) · cos(image_i, text_j)},
 * cross-entropy of each image over the captions and of each caption over the images, averaged —
 * then backward, gradients averaged across data-parallel ranks, clipping, the optimizer step, and
 * logit_scale clamped to [0, ln 100]. Pairs given the same caption id are not counted as each other's
 * negatives (the same caption can come twice in a batch).
 *
 * <pre>{@code
 * try (ContrastiveStep step = ContrastiveStep.create(judge, opt, null, ContrastiveStep.Options.DEFAULT)) {
 *   ContrastiveStep.Metrics m = step.run(images, ImageTextJudge.textBytes(captions, 96), captionIds);
 * }
 * }</pre>
 */
public final class ContrastiveStep implements AutoCloseable {
  /** bf16: the forward autocast to bf16 (weights stay f32). maxGradNorm 0: no clipping. */
  public record Options(boolean bf16, double maxGradNorm) {
    public static final Options DEFAULT = new Options(false, 1.0);

    public Options {
      if (!(maxGradNorm >= 0)) throw new InvalidArgumentException("maxGradNorm must be >= 0 (0: no clipping)");
    }
  }

  /**
   * What a step did: the loss (mean over the batch and the ranks), the gradient norm before clipping
   * (0 without clipping), the image-to-caption top-1 accuracy within the batch, and the logits'
   * scale exp(logit_scale) after the step, and whether the weights were updated (a loss that is not
   * finite skips the update).
   */
  public record Metrics(double loss, double gradNorm, double batchAccuracy, double logitScale, boolean stepped) {}

  private final NativeHandle handle;

  private ContrastiveStep(MemorySegment h) {
    this.handle = NativeHandle.trainStep(this, h);
  }

  /**
   * A step that trains {@code model} with {@code opt} (over its parameters), averaging gradients
   * across {@code dp}'s ranks when it is not null. Keep the model open while the step lives.
   */
  public static <M extends NativeModule & ContrastiveModel> ContrastiveStep create(M model, Optimizer opt,
      DataParallel dp, Options options) {
    String config = "precision=" + (options.bf16() ? "bf16" : "f32") + "\nmax_grad_norm=" + options.maxGradNorm();
    return new ContrastiveStep(Native.trainStepCreate("contrastive", config, Access.handle(model), opt.handle(),
        MemorySegment.NULL, dp == null ? MemorySegment.NULL : dp.handle(), MemorySegment.NULL));
  }

  /**
   * One step on a batch of at least 2 pairs: images [B, 3, H, W] in [-1, 1], the captions as the
   * model takes text (the judge's bytes, {@link ImageTextJudge#textBytes}; a ClipModel's token ids
   * [B, T]), integer caption ids [B] (equal ids: the same caption). Waits for the device.
   */
  public Metrics run(Tensor images, Tensor captions, Tensor captionIds) {
    double[] m = Native.trainStepRunInputs(handle.get("training step is closed"), Access.handle(images),
        Access.handle(captions), Access.handle(captionIds));
    return new Metrics(m[0], m[1], m[2], m[3], m[4] != 0);
  }

  /**
   * Caption ids for {@link #run}: equal captions get equal ids (the same caption twice in a batch is no
   * negative of itself), numbered in order of first appearance; an i64 tensor [B] on the CPU.
   */
  public static Tensor captionIds(String[] captions) {
    java.util.Map<String, Long> ids = new java.util.HashMap<>();
    long[] out = new long[captions.length];
    for (int i = 0; i < captions.length; i++) out[i] = ids.computeIfAbsent(captions[i], c -> (long) ids.size());
    return Tensor.of(out, captions.length);
  }

  @Override
  public void close() {
    handle.close();
  }
}
