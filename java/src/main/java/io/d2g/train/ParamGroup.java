package io.d2g.train;

import io.d2g.InvalidArgumentException;
import java.util.function.Predicate;

/**
 * A rule that puts parameters in a group of their own: those whose name {@code matches}, with their
 * own learning rate and/or weight decay (null: the optimizer's). Rules are tried in order; a
 * parameter no rule takes stays in the default group (group 0, the optimizer's settings).
 *
 * <pre>{@code
 * // no weight decay on biases and normalisation weights, as most diffusion trainers do
 * Optimizer.create(OptimizerConfig.AdamW.lr(1e-4), unet, ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
 * }</pre>
 */
public record ParamGroup(String name, Predicate<String> matches, Double lr, Double weightDecay) {
  /** Biases, and the weights of normalisation layers (names containing "norm"). */
  public static final Predicate<String> BIASES_AND_NORMS =
      n -> n.endsWith(".bias") || n.equals("bias") || n.contains("norm");

  public ParamGroup {
    if (name == null || name.isBlank()) throw new InvalidArgumentException("a parameter group needs a name");
    if (matches == null) throw new InvalidArgumentException("a parameter group needs a rule");
  }

  /** The matching parameters without weight decay. */
  public static ParamGroup noWeightDecay(Predicate<String> matches) {
    return new ParamGroup("no_weight_decay", matches, null, 0.0);
  }

  /** The matching parameters with their own learning rate. */
  public static ParamGroup withLr(String name, Predicate<String> matches, double lr) {
    return new ParamGroup(name, matches, lr, null);
  }
}
