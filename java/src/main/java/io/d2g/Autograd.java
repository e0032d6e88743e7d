package io.d2g;

import io.d2g.internal.Access;
import io.d2g.internal.ExecMode;
import io.d2g.internal.Native;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Automatic differentiation, as in PyTorch but opt-in: tensor operations and model forward calls
 * record the graph that {@link Tensor#backward()} walks back only inside a {@link #record()} scope;
 * everywhere else they run as under {@code torch.no_grad()} (inference: no graph, no memory kept for
 * it). The scope belongs to the Java thread that opens it (virtual threads included):
 *
 * <pre>{@code
 * try (var rec = Autograd.record(); TensorScope s = new TensorScope()) {
 *   Tensor loss = s.track(s.track(s.track(model.forward(x)).sub(target)).square()).mean();
 *   s.track(loss).backward();                      // fills the parameters' grad()
 * }
 * }</pre>
 *
 * Training steps that run whole in native code (forward, loss, backward, optimizer) do not need
 * this; it is for tests, experiments and losses written in Java.
 */
public final class Autograd {
  private Autograd() {}

  /** Records the autograd graph on this thread until the scope is closed. Scopes nest. */
  public static ThreadScope record() {
    return new ThreadScope(ExecMode.set(ExecMode.GRAD, ExecMode.GRAD));
  }

  /** Stops recording on this thread until the scope is closed (inside a {@link #record()} scope). */
  public static ThreadScope noGrad() {
    return new ThreadScope(ExecMode.set(ExecMode.GRAD, 0));
  }

  /** Whether operations on this thread record the graph now. */
  public static boolean isRecording() {
    return (ExecMode.bits() & ExecMode.GRAD) != 0;
  }

  /**
   * torch.autograd.grad: the gradients of {@code sum(outputs[i] * gradOutputs[i])} with respect to
   * {@code inputs} (which must require grad), leaving every {@code grad()} alone. {@code gradOutputs}
   * may be null when every output has one element. With {@code createGraph} the gradient computation
   * is recorded too, so that a loss made from the gradients can be backpropagated (gradient
   * penalties such as R1). An entry is null where an input does not influence the outputs. The
   * caller closes the returned tensors.
   */
  public static List<Tensor> grad(List<Tensor> outputs, List<Tensor> gradOutputs, List<Tensor> inputs,
      boolean createGraph) {
    if (outputs.isEmpty() || inputs.isEmpty())
      throw new InvalidArgumentException("grad needs at least one output and one input");
    if (gradOutputs != null && gradOutputs.size() != outputs.size())
      throw new InvalidArgumentException("gradOutputs has " + gradOutputs.size() + " tensors for "
          + outputs.size() + " outputs");
    MemorySegment[] grads = Native.autogradGrad(handles(outputs), gradOutputs == null ? null : handles(gradOutputs),
        handles(inputs), createGraph);
    List<Tensor> result = new ArrayList<>(grads.length);
    for (MemorySegment g : grads) result.add(g.address() == 0 ? null : Access.tensor(g));
    return result;
  }

  private static MemorySegment[] handles(List<Tensor> tensors) {
    MemorySegment[] h = new MemorySegment[tensors.size()];
    for (int i = 0; i < h.length; i++) h[i] = Access.handle(tensors.get(i));
    return h;
  }
}
