package io.d2g.train;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An optimizer over a module's parameters (or any named tensors that require grad), held by the
 * native shim: torch.optim's AdamW or SGD ({@link OptimizerConfig}), in parameter groups ({@link
 * ParamGroup}), with gradient clipping by global norm and a state for checkpoints.
 *
 * <pre>{@code
 * try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3), model)) {
 *   for (long step = 0; step < steps; step++) {
 *     opt.zeroGrad();
 *     ... forward and loss.backward() inside Autograd.record() ...
 *     opt.clipGradNorm(1.0);
 *     opt.setLrFactor(schedule.factor(step));
 *     opt.step();
 *   }
 * }
 * }</pre>
 */
public final class Optimizer implements AutoCloseable {
  private final NativeHandle handle;
  private final OptimizerConfig config;
  private final List<String> groupNames;
  private final double[] baseLr;
  private final List<String> parameterNames;

  private Optimizer(OptimizerConfig config, Map<String, Tensor> params, ParamGroup[] rules) {
    if (params.isEmpty()) throw new InvalidArgumentException("nothing to optimise: no parameters");
    this.config = config;
    // group 0: what no rule takes; then one group per rule that took something, in rule order
    List<List<Map.Entry<String, Tensor>>> members = new ArrayList<>();
    for (int r = 0; r <= rules.length; r++) members.add(new ArrayList<>());
    for (Map.Entry<String, Tensor> e : params.entrySet()) {
      int g = 0;
      for (int r = 0; r < rules.length && g == 0; r++)
        if (rules[r].matches().test(e.getKey())) g = r + 1;
      members.get(g).add(e);
    }
    List<String> names = new ArrayList<>();
    List<Double> lrs = new ArrayList<>(), wds = new ArrayList<>();
    List<MemorySegment> handles = new ArrayList<>();
    List<Integer> groupOf = new ArrayList<>();
    List<String> order = new ArrayList<>();
    for (int g = 0; g < members.size(); g++) {
      if (members.get(g).isEmpty()) continue;
      ParamGroup rule = g == 0 ? null : rules[g - 1];
      names.add(rule == null ? "default" : rule.name());
      lrs.add(rule != null && rule.lr() != null ? rule.lr() : config.lr());
      wds.add(rule != null && rule.weightDecay() != null ? rule.weightDecay() : config.weightDecay());
      for (Map.Entry<String, Tensor> e : members.get(g)) {
        handles.add(Access.handle(e.getValue()));
        groupOf.add(names.size() - 1);
        order.add(e.getKey());
      }
    }
    this.groupNames = List.copyOf(names);
    this.baseLr = lrs.stream().mapToDouble(Double::doubleValue).toArray();
    this.parameterNames = Collections.unmodifiableList(order);
    this.handle = NativeHandle.optimizer(this, Native.optimizerCreate(config.kind(), config.nativeConfig(),
        handles.toArray(MemorySegment[]::new), groupOf.stream().mapToInt(Integer::intValue).toArray(), baseLr,
        wds.stream().mapToDouble(Double::doubleValue).toArray()));
  }

  /** An optimizer over every parameter of {@code module}, grouped by {@code rules}. */
  public static Optimizer create(OptimizerConfig config, NativeModule module, ParamGroup... rules) {
    Map<String, Tensor> params = module.parameters();
    try {
      return new Optimizer(config, params, rules);
    } finally {
      params.values().forEach(Tensor::close); // the optimizer holds the tensors themselves
    }
  }

  /**
   * An optimizer over named leaf tensors that require grad (the caller keeps its tensors; the
   * optimizer holds its own references).
   */
  public static Optimizer create(OptimizerConfig config, Map<String, Tensor> params, ParamGroup... rules) {
    return new Optimizer(config, new LinkedHashMap<>(params), rules);
  }

  MemorySegment handle() {
    return handle.get("optimizer is closed");
  }

  public OptimizerConfig config() {
    return config;
  }

  /** The groups' names, group 0 first ("default" for the parameters no rule took). */
  public List<String> groupNames() {
    return groupNames;
  }

  /** The parameters' names in the optimizer's order (index i is "<slot>.i" in {@link #state()}). */
  public List<String> parameterNames() {
    return parameterNames;
  }

  /** One update of every parameter that has a gradient. */
  public void step() {
    Native.optimizerStep(handle());
  }

  /** Drops every parameter's gradient (before the next backward). */
  public void zeroGrad() {
    Native.optimizerZeroGrad(handle());
  }

  /**
   * Scales the gradients so that their global L2 norm is at most {@code maxNorm}
   * (torch.nn.utils.clip_grad_norm_); returns the norm before clipping.
   */
  public double clipGradNorm(double maxNorm) {
    return Native.optimizerClipGradNorm(handle(), maxNorm);
  }

  /** Sets every group's learning rate to its base rate times {@code factor} (a schedule's value). */
  public void setLrFactor(double factor) {
    if (!(factor >= 0) || Double.isInfinite(factor))
      throw new InvalidArgumentException("a learning-rate factor must be a finite number >= 0, not " + factor);
    for (int g = 0; g < baseLr.length; g++) Native.optimizerSetLr(handle(), g, baseLr[g] * factor);
  }

  /** Sets one group's learning rate. */
  public void setLr(int group, double lr) {
    Native.optimizerSetLr(handle(), group, lr);
  }

  /** A group's base learning rate (before any schedule factor). */
  public double baseLr(int group) {
    return baseLr[group];
  }

  /**
   * The optimizer's state, named "<slot>.<parameter index>" (AdamW: exp_avg, exp_avg_sq, step; SGD:
   * momentum_buffer), as tensors sharing its memory. The caller closes them.
   */
  public Map<String, Tensor> state() {
    return NamedTensors.adopt(Native.optimizerState(handle()));
  }

  /** Replaces the whole state with tensors named as {@link #state()} names them (copied). */
  public void loadState(Map<String, Tensor> state) {
    NamedTensors.pass(state, (names, handles) -> Native.optimizerLoadState(handle(), names, handles));
  }

  @Override
  public void close() {
    handle.close();
  }
}
