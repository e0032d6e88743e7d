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
 * small latent space) and whether the distance adds the official code's L1 term on the latents.
 * config.json keys: {@code latent_channels, widths, add_l1}.
 */
public record LatentLpipsConfig(int latentChannels, List<Integer> widths, boolean addL1) {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String WHERE = "latent_lpips";

  /** The official network for SD1.5, SD2.1 and SDXL latents (4 channels), without the L1 term. */
  public static final LatentLpipsConfig SD = new LatentLpipsConfig(4, List.of(64, 128, 256, 512, 512), false);

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
        r.bool("add_l1", false, true));
  }

  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    o.put("latent_channels", latentChannels);
    widths.forEach(o.putArray("widths")::add);
    o.put("add_l1", addL1);
    return o;
  }

  public ModuleConfig toModuleConfig() {
    return new ModuleConfig().set("latent_channels", latentChannels).set("widths", widths).set("add_l1", addL1);
  }
}
