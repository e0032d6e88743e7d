package io.d2g.sd;

import static io.d2g.bindings.d2g_h.d2g_unet_feature_count;
import static io.d2g.bindings.d2g_h.d2g_unet_forward;
import static io.d2g.bindings.d2g_h.d2g_unet_forward_features;

import io.d2g.Tensor;
import io.d2g.internal.Native;
import io.d2g.nn.ModuleConfig;
import io.d2g.nn.NativeModule;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The Stable Diffusion UNet: diffusers' {@code UNet2DConditionModel} (SD 1.x and 2.x block types),
 * created from its config.json keys, with parameters named exactly like its state_dict (load a
 * {@code unet/diffusion_pytorch_model.safetensors} with {@link #loadState}). Calls record no
 * autograd graph.
 */
public final class UNet2DConditionModel extends NativeModule {
  /**
   * A forward pass with its intermediate activations: {@code down.get(i)} is the output of down
   * block i (after its downsampler), {@code mid} the mid block's output, {@code up.get(i)} the output
   * of up block i (after its upsampler; up block 0 has the lowest resolution). Owns every tensor.
   */
  public record Output(Tensor sample, List<Tensor> down, Tensor mid, List<Tensor> up) implements AutoCloseable {
    /** down..., mid, up... in the native order. */
    public List<Tensor> features() {
      List<Tensor> all = new ArrayList<>(down);
      all.add(mid);
      all.addAll(up);
      return all;
    }

    @Override
    public void close() {
      sample.close();
      features().forEach(Tensor::close);
    }
  }

  public UNet2DConditionModel(ModuleConfig config) {
    super("unet2d_condition", config);
  }

  /**
   * The prediction (ε, v or x0, per the scheduler's prediction_type) for {@code sample} [B,
   * in_channels, H, W] at {@code timestep} (0-dim, [1] or [B]; integer or floating) given the text
   * states {@code encoderHiddenStates} [B, T, cross_attention_dim].
   */
  public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) {
    MemorySegment out = Native.scratch();
    Native.check(d2g_unet_forward(handle(), sample.handle(), timestep.handle(), encoderHiddenStates.handle(), out));
    return Tensor.adopt(out.get(ValueLayout.ADDRESS, 0));
  }

  /** {@link #forward(Tensor, Tensor, Tensor)} at one integer timestep for the whole batch. */
  public Tensor forward(Tensor sample, long timestep, Tensor encoderHiddenStates) {
    try (Tensor t = Tensor.of(new long[] {timestep})) {
      return forward(sample, t, encoderHiddenStates);
    }
  }

  /** How many activations {@link #forwardWithFeatures} gives: 2 × the number of down blocks + 1. */
  public int featureCount() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_unet_feature_count(handle(), out));
    return out.get(ValueLayout.JAVA_INT, 0);
  }

  /** The forward pass together with the activations after every down block, the mid block and every up block. */
  public Output forwardWithFeatures(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) {
    int capacity = featureCount();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      MemorySegment features = arena.allocate(ValueLayout.ADDRESS, capacity);
      MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
      Native.check(d2g_unet_forward_features(handle(), sample.handle(), timestep.handle(),
          encoderHiddenStates.handle(), out, features, capacity, count));
      Tensor y = Tensor.adopt(out.get(ValueLayout.ADDRESS, 0));
      int n = count.get(ValueLayout.JAVA_INT, 0);
      List<Tensor> all = new ArrayList<>(n);
      for (int i = 0; i < n; i++) all.add(Tensor.adopt(features.getAtIndex(ValueLayout.ADDRESS, i)));
      int blocks = (n - 1) / 2;
      return new Output(y, List.copyOf(all.subList(0, blocks)), all.get(blocks),
          List.copyOf(all.subList(blocks + 1, n)));
    }
  }
}
