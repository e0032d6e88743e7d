package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.nn.ModuleConfig;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The configuration of an {@link AutoencoderKL}: the keys of diffusers' {@code AutoencoderKL}
 * config.json with its defaults. {@code scalingFactor} (and the optional {@code shiftFactor})
 * concern the callers that move between image and latent space, not the network.
 */
public record AutoencoderKLConfig(int inChannels, int outChannels, List<Integer> blockOutChannels, int layersPerBlock,
    String actFn, int latentChannels, int normNumGroups, Integer sampleSize, double scalingFactor, Double shiftFactor,
    boolean forceUpcast, boolean useQuantConv, boolean usePostQuantConv, boolean midBlockAddAttention) {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String WHERE = "autoencoder_kl";

  /** SD1.5's VAE. */
  public static final AutoencoderKLConfig SD15 = new AutoencoderKLConfig(3, 3, List.of(128, 256, 512, 512), 2, "silu",
      4, 32, 512, 0.18215, null, true, true, true, true);

  public AutoencoderKLConfig {
    blockOutChannels = List.copyOf(blockOutChannels);
    if (blockOutChannels.isEmpty() || blockOutChannels.size() > 16)
      throw new InvalidArgumentException(WHERE + ": block_out_channels must have 1 to 16 values");
    if (!(scalingFactor > 0)) throw new InvalidArgumentException(WHERE + ": scaling_factor must be positive");
  }

  /** How much smaller the latents are than the image: 2^(blocks - 1). */
  public int downscale() {
    return 1 << (blockOutChannels.size() - 1);
  }

  /** Reads a diffusers config.json (keys this model does not use are ignored, as diffusers ignores them). */
  public static AutoencoderKLConfig fromJson(JsonNode json) {
    ConfigReader r = new ConfigReader(json, WHERE);
    List<Integer> channels = r.integers("block_out_channels", List.of(64), 1, 1 << 16);
    int n = channels.size();
    List<String> down = r.strings("down_block_types", Collections.nCopies(n, "DownEncoderBlock2D"));
    List<String> up = r.strings("up_block_types", Collections.nCopies(n, "UpDecoderBlock2D"));
    if (down.size() != n || up.size() != n)
      throw new InvalidArgumentException(WHERE + ": down_block_types (" + down.size() + "), up_block_types (" + up.size()
          + ") and block_out_channels (" + n + ") must have the same length");
    for (String t : down)
      if (!t.equals("DownEncoderBlock2D"))
        throw new InvalidArgumentException(WHERE + ": down block type '" + t + "' is not supported (supported: DownEncoderBlock2D)");
    for (String t : up)
      if (!t.equals("UpDecoderBlock2D"))
        throw new InvalidArgumentException(WHERE + ": up block type '" + t + "' is not supported (supported: UpDecoderBlock2D)");
    Double shift = null;
    if (r.has("shift_factor")) shift = r.number("shift_factor", 0, -1e6, 1e6);
    return new AutoencoderKLConfig(r.integer("in_channels", 3, 1, 4096), r.integer("out_channels", 3, 1, 4096), channels,
        r.integer("layers_per_block", 1, 1, 64), r.string("act_fn", "silu"), r.integer("latent_channels", 4, 1, 4096),
        r.integer("norm_num_groups", 32, 1, 4096), r.nullableInteger("sample_size", 32, 1, 1 << 16),
        r.number("scaling_factor", 0.18215, 1e-9, 1e9), shift, r.bool("force_upcast", true, true),
        r.bool("use_quant_conv", true, true), r.bool("use_post_quant_conv", true, true),
        r.bool("mid_block_add_attention", true, true));
  }

  /** {@link #fromJson} of a config.json file. */
  public static AutoencoderKLConfig read(java.nio.file.Path configJson) {
    return fromJson(ConfigReader.readFile(configJson));
  }

  /** {@link #fromJson} of the given config.json keys (for code and tests). */
  public static AutoencoderKLConfig of(Map<String, ?> keys) {
    return fromJson(JSON.valueToTree(keys));
  }

  /** The config.json diffusers writes for this configuration (without the class and version keys). */
  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    o.put("act_fn", actFn);
    blockOutChannels.forEach(o.putArray("block_out_channels")::add);
    var down = o.putArray("down_block_types");
    var up = o.putArray("up_block_types");
    for (int i = 0; i < blockOutChannels.size(); i++) {
      down.add("DownEncoderBlock2D");
      up.add("UpDecoderBlock2D");
    }
    o.put("force_upcast", forceUpcast);
    o.put("in_channels", inChannels);
    o.put("latent_channels", latentChannels);
    o.put("layers_per_block", layersPerBlock);
    o.put("mid_block_add_attention", midBlockAddAttention);
    o.put("norm_num_groups", normNumGroups);
    o.put("out_channels", outChannels);
    if (sampleSize == null) o.putNull("sample_size");
    else o.put("sample_size", sampleSize);
    o.put("scaling_factor", scalingFactor);
    if (shiftFactor == null) o.putNull("shift_factor");
    else o.put("shift_factor", shiftFactor);
    o.put("use_post_quant_conv", usePostQuantConv);
    o.put("use_quant_conv", useQuantConv);
    return o;
  }

  /** The configuration the native VAE is created from. */
  public ModuleConfig toModuleConfig() {
    int n = blockOutChannels.size();
    return new ModuleConfig().set("in_channels", inChannels).set("out_channels", outChannels)
        .set("down_block_types", Collections.nCopies(n, "DownEncoderBlock2D"))
        .set("up_block_types", Collections.nCopies(n, "UpDecoderBlock2D")).set("block_out_channels", blockOutChannels)
        .set("layers_per_block", layersPerBlock).set("act_fn", actFn).set("latent_channels", latentChannels)
        .set("norm_num_groups", normNumGroups).set("use_quant_conv", useQuantConv)
        .set("use_post_quant_conv", usePostQuantConv).set("mid_block_add_attention", midBlockAddAttention);
  }
}
