package io.d2g.train;

import io.d2g.InvalidArgumentException;

/**
 * An optimizer's algorithm and hyperparameters: {@link AdamW} or {@link Sgd}. {@code lr} and {@code
 * weightDecay} are the defaults of every parameter group (a group may override them); a learning-rate
 * schedule scales each group's rate by a factor per step.
 */
public sealed interface OptimizerConfig permits OptimizerConfig.AdamW, OptimizerConfig.Sgd {
  double lr();

  double weightDecay();

  /** The native kind ("adamw", "sgd"). */
  String kind();

  /** The native config text (everything but the per-group lr and weight decay). */
  String nativeConfig();

  /**
   * torch.optim.AdamW: Adam with decoupled weight decay ({@code p *= 1 - lr * weightDecay} before the
   * Adam step). torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
   */
  record AdamW(double lr, double beta1, double beta2, double eps, double weightDecay) implements OptimizerConfig {
    public AdamW {
      nonNegative("lr", lr);
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        throw new InvalidArgumentException("betas must be in [0, 1), not " + beta1 + ", " + beta2);
      nonNegative("eps", eps);
      nonNegative("weightDecay", weightDecay);
    }

    /** torch's defaults with this learning rate. */
    public static AdamW lr(double lr) {
      return new AdamW(lr, 0.9, 0.999, 1e-8, 1e-2);
    }

    public AdamW withBetas(double beta1, double beta2) {
      return new AdamW(lr, beta1, beta2, eps, weightDecay);
    }

    public AdamW withEps(double eps) {
      return new AdamW(lr, beta1, beta2, eps, weightDecay);
    }

    public AdamW withWeightDecay(double weightDecay) {
      return new AdamW(lr, beta1, beta2, eps, weightDecay);
    }

    @Override
    public String kind() {
      return "adamw";
    }

    @Override
    public String nativeConfig() {
      return "beta1=" + beta1 + "\nbeta2=" + beta2 + "\neps=" + eps;
    }
  }

  /**
   * torch.optim.SGD: {@code d = g + weightDecay * p}; with momentum {@code buf = momentum * buf + (1 -
   * dampening) * d} and {@code d = nesterov ? d + momentum * buf : buf}; {@code p -= lr * d}.
   */
  record Sgd(double lr, double momentum, double dampening, boolean nesterov, double weightDecay)
      implements OptimizerConfig {
    public Sgd {
      nonNegative("lr", lr);
      nonNegative("momentum", momentum);
      nonNegative("weightDecay", weightDecay);
      if (nesterov && (momentum <= 0 || dampening != 0))
        throw new InvalidArgumentException("nesterov momentum needs momentum > 0 and dampening 0");
    }

    /** Plain SGD with this learning rate. */
    public static Sgd lr(double lr) {
      return new Sgd(lr, 0, 0, false, 0);
    }

    public Sgd withMomentum(double momentum, boolean nesterov) {
      return new Sgd(lr, momentum, dampening, nesterov, weightDecay);
    }

    public Sgd withDampening(double dampening) {
      return new Sgd(lr, momentum, dampening, nesterov, weightDecay);
    }

    public Sgd withWeightDecay(double weightDecay) {
      return new Sgd(lr, momentum, dampening, nesterov, weightDecay);
    }

    @Override
    public String kind() {
      return "sgd";
    }

    @Override
    public String nativeConfig() {
      return "momentum=" + momentum + "\ndampening=" + dampening + "\nnesterov=" + nesterov;
    }
  }

  private static void nonNegative(String what, double v) {
    if (!(v >= 0) || Double.isInfinite(v)) throw new InvalidArgumentException(what + " must be a finite number >= 0, not " + v);
  }
}
