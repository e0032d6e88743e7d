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
 * The Stable Diffusion UNet: diffusers' {@code UNet2DConditionModel} (SD 1.x and 2.x block types),
 * created from its config.json keys, with parameters named exactly like its state_dict (load a
 * {@code unet/diffusion_pytorch_model.safetensors} with {@link #loadState}). Calls record no
 * autograd graph.
 */
public final class UNet2DConditionModel extends NativeModule implements DiffusersModel {
  /** The family, for loaders: diffusers' UNet2DConditionModel. */
  public static final ModelFamily<UNet2DConditionModel> FAMILY =
      new ModelFamily<>("UNet2DConditionModel", json -> new UNet2DConditionModel(UNet2DConditionConfig.fromJson(json)));

  private final UNet2DConditionConfig config;

  /**
   * A forward pass with its intermediate activations: {@code down.get(i)} is the output of down
   * block i (after its downsampler), {@code mid} the mid block's output, {@code up.get(i)} the output
   * of up block i (after its upsampler; up block 0 has the lowest resolution); {@code mid} is null
   * for a UNet without a mid block. Owns every tensor.
   */
  public record Output(Tensor sample, List<Tensor> down, Tensor mid, List<Tensor> up) implements AutoCloseable {
    /** down..., mid (if any), up... in the native order. */
    public List<Tensor> features() {
      List<Tensor> all = new ArrayList<>(down);
      if (mid != null) all.add(mid);
      all.addAll(up);
      return all;
    }

    @Override
    public void close() {
      sample.close();
      features().forEach(Tensor::close);
    }
  }

  public UNet2DConditionModel(UNet2DConditionConfig config) {
    super("unet2d_condition", config.toModuleConfig());
    this.config = config;
  }

  public UNet2DConditionConfig config() {
    return config;
  }

  @Override
  public String library() {
    return "diffusers";
  }

  @Override
  public String className() {
    return "UNet2DConditionModel";
  }


  @Override
  public ObjectNode configJson() {
    return config.toJson();
  }

  /**
   * The prediction (ε, v or x0, per the scheduler's prediction_type) for {@code sample} [B,
   * in_channels, H, W] at {@code timestep} (0-dim, [1] or [B]; integer or floating) given the text
   * states {@code encoderHiddenStates} [B, T, cross_attention_dim].
   */
  public Tensor forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) {
    return Access.tensor(Native.unetForward(Access.handle(this), Access.handle(sample), Access.handle(timestep),
        Access.handle(encoderHiddenStates)));
  }

  /** {@link #forward(Tensor, Tensor, Tensor)} at one integer timestep for the whole batch. */
  public Tensor forward(Tensor sample, long timestep, Tensor encoderHiddenStates) {
    try (Tensor t = Tensor.of(new long[] {timestep})) {
      return forward(sample, t, encoderHiddenStates);
    }
  }

  /**
   * How many activations {@link #forwardWithFeatures} gives: 2 × the number of down blocks, plus 1
   * for the mid block when there is one.
   */
  public int featureCount() {
    return Native.unetFeatureCount(Access.handle(this));
  }

  /** The forward pass together with the activations after every down block, the mid block and every up block. */
  public Output forwardWithFeatures(Tensor sample, Tensor timestep, Tensor encoderHiddenStates) {
    List<MemorySegment> handles = Native.unetForwardFeatures(Access.handle(this), Access.handle(sample),
        Access.handle(timestep), Access.handle(encoderHiddenStates));
    List<Tensor> all = new ArrayList<>(handles.size());
    for (MemorySegment h : handles) all.add(Access.tensor(h));
    Tensor y = all.removeFirst();
    int blocks = config.blockOutChannels().size();
    Tensor mid = config.midBlockType() == null ? null : all.get(blocks);
    int upStart = blocks + (mid == null ? 0 : 1);
    return new Output(y, List.copyOf(all.subList(0, blocks)), mid, List.copyOf(all.subList(upStart, all.size())));
  }

}
