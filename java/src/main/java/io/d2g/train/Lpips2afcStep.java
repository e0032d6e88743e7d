package io.d2g.train;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.LatentLpips;
import io.d2g.models.LpipsRank;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The second half of making LatentLPIPS weights: with the trunk frozen, its five lin heads learn from
 * two-alternative forced-choice judgements (which of two distortions p0, p1 is closer to a reference),
 * as LPIPS calibrated them — d0 = distance(ref, p0), d1 = distance(ref, p1), the logit that p1 is the
 * closer, binary cross-entropy against the judgement, and after each update the lin weights are clamped
 * to be non-negative (so that the distance stays a sum of non-negative terms). One native call per step.
 * The logit is 10 (d0 − d1) / (d0 + d1) unless a {@link LpipsRank} is given (the official LPIPS
 * ranking head, trained alongside): the direct logit can fit the judgements only by ordering the
 * distances, whereas the ranking head can also fit them from the distances' sizes alone, which leaves
 * the order wrong (LpipsStepsTest shows such a case).
 */
public final class Lpips2afcStep implements AutoCloseable {
  public record Options(boolean bf16, double maxGradNorm) {
    public static final Options DEFAULT = new Options(false, 0);

    public Options {
      if (!(maxGradNorm >= 0)) throw new InvalidArgumentException("maxGradNorm must be >= 0 (0: no clipping)");
    }
  }

  /** The loss, the gradient norm before clipping, the batch's 2AFC score, whether it stepped. */
  public record Metrics(double loss, double gradNorm, double score, boolean stepped) {}

  private final NativeHandle handle;

  private Lpips2afcStep(MemorySegment h) {
    this.handle = NativeHandle.trainStep(this, h);
  }

  /** The five lin heads' weights ({@code lin0.model.1.weight} ...), switched to require grad, for the optimizer. */
  public static Map<String, Tensor> linParameters(LatentLpips lpips) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (var e : lpips.state().entrySet()) {
      if (e.getKey().startsWith("lin")) {
        e.getValue().requiresGrad(true);
        out.put(e.getKey(), e.getValue());
      } else {
        e.getValue().close();
      }
    }
    return out;
  }

  /**
   * A step that calibrates {@code lpips}'s lin heads with {@code opt} through the direct logit, or, when
   * {@code rank} is not null, through that ranking head, which {@code opt} then trains as well. Keep them open.
   */
  public static Lpips2afcStep create(LatentLpips lpips, LpipsRank rank, Optimizer opt, Options options) {
    String config = "precision=" + (options.bf16() ? "bf16" : "f32") + "\nmax_grad_norm=" + options.maxGradNorm();
    Lpips2afcStep step = new Lpips2afcStep(Native.trainStepCreate("lpips_2afc", config, Access.handle(lpips), opt.handle(),
        MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL));
    if (rank == null) return step;
    try {
      Native.trainStepSetModule(step.handle.get("training step is closed"), "rank", Access.handle(rank));
    } catch (RuntimeException e) {
      step.close();
      throw e;
    }
    return step;
  }

  /** One step: ref, p0, p1 latents [B, C, H, W] of one shape and the judgements [B] in [0, 1] (1: p1 is closer). */
  public Metrics run(Tensor ref, Tensor p0, Tensor p1, Tensor judgement) {
    double[] m = Native.trainStepRunInputs(handle.get("training step is closed"), Access.handle(ref), Access.handle(p0),
        Access.handle(p1), Access.handle(judgement));
    return new Metrics(m[0], m[1], m[2], m[3] != 0);
  }

  @Override
  public void close() {
    handle.close();
  }
}
