package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.nn.ModuleConfig;
import java.util.List;

/**
 * The configuration of a {@link LatentLpips}: the latent channel count its first convolution takes, the
 * widths of its five VGG16-BN stages (the official network's 64, 128, 256, 512, 512, or smaller for a
 * small latent space) and whether the distance adds the official code's L1 term on the latents; and,
 * a run-time choice rather than part of the model, whether a distance with gradients for one input
 * only (a generator's output against its target) takes the lean backward: the trunk keeps ReLU masks
 * and pooling choices (a byte an element) and the taps instead of every activation, the same
 * gradients for less saved memory and a few more kernels ({@code false} unless asked for; see
 * benchmarks/results/elatentlpips.json for what it saves and costs); and whether the ensemble's
 * geometric augmentation pads by the most any draw can need instead of what each batch's draws need
 * ({@code fixedAugmentPadding}): no host synchronisation and fixed shapes once the draws are made, what a
 * CUDA graph capture of a training step needs, the same distances up to f32 rounding for more work on
 * the padded canvas ({@code false} unless asked for: eager calls gain nothing from it).
 * config.json keys: {@code latent_channels, widths, add_l1}, and {@code lean_backward} and
 * {@code fixed_augment_padding} (each written only when on).
 */
public record LatentLpipsConfig(int latentChannels, List<Integer> widths, boolean addL1, boolean leanBackward,
    boolean fixedAugmentPadding) {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String WHERE = "latent_lpips";

  /** The official network for SD1.5, SD2.1 and SDXL latents (4 channels), without the L1 term. */
  public static final LatentLpipsConfig SD = new LatentLpipsConfig(4, List.of(64, 128, 256, 512, 512), false);

  /** Without the lean backward and with the augmentation's padding fitted to each batch. */
  public LatentLpipsConfig(int latentChannels, List<Integer> widths, boolean addL1) {
    this(latentChannels, widths, addL1, false, false);
  }

  /** The same network with the lean backward on or off. */
  public LatentLpipsConfig withLeanBackward(boolean on) {
    return new LatentLpipsConfig(latentChannels, widths, addL1, on, fixedAugmentPadding);
  }

  /** The same network with the augmentation's fixed padding on or off. */
  public LatentLpipsConfig withFixedAugmentPadding(boolean on) {
    return new LatentLpipsConfig(latentChannels, widths, addL1, leanBackward, on);
  }

  public LatentLpipsConfig {
    widths = List.copyOf(widths);
    if (latentChannels < 1 || latentChannels > 1024)
      throw new InvalidArgumentException(WHERE + ": latent_channels must be 1 to 1024, not " + latentChannels);
    if (widths.size() != 5) throw new InvalidArgumentException(WHERE + ": widths must have 5 values (one per stage)");
    for (int w : widths)
      if (w < 1 || w > 4096) throw new InvalidArgumentException(WHERE + ": widths must be 1 to 4096, not " + w);
  }

  /** From config.json keys (defaults: {@link #SD}'s). */
  public static LatentLpipsConfig fromJson(JsonNode json) {
    ConfigReader r = new ConfigReader(json, WHERE);
    return new LatentLpipsConfig(r.integer("latent_channels", 4, 1, 1024), r.integers("widths", SD.widths, 1, 4096),
        r.bool("add_l1", false, true), r.bool("lean_backward", false, false),
        r.bool("fixed_augment_padding", false, false));
  }

  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    o.put("latent_channels", latentChannels);
    widths.forEach(o.putArray("widths")::add);
    o.put("add_l1", addL1);
    if (leanBackward) o.put("lean_backward", true);
    if (fixedAugmentPadding) o.put("fixed_augment_padding", true);
    return o;
  }

  public ModuleConfig toModuleConfig() {
    return new ModuleConfig().set("latent_channels", latentChannels).set("widths", widths).set("add_l1", addL1).set("lean_backward", leanBackward)
        .set("fixed_augment_padding", fixedAugmentPadding);
  }
}
