package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.nn.ModuleConfig;
import java.util.List;

/**
 * The configuration of an {@link ImageTextJudge}: the widths of the image tower's residual stages
 * (each halves the resolution), the image tower's GroupNorm group count, the byte-level text tower's
 * width, depth and longest text in bytes, and the shared embedding width. config.json keys:
 * {@code image_widths, norm_groups, text_width, text_layers, text_max_bytes, embed_dim}.
 */
public record ImageTextJudgeConfig(List<Integer> imageWidths, int normGroups, int textWidth, int textLayers,
    int textMaxBytes, int embedDim) {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String WHERE = "image_text_judge";

  /** The judge shipped for the emoji domain: four stages 32..256 wide, 128-wide text, 128-d embeddings. */
  public static final ImageTextJudgeConfig EMOJI = new ImageTextJudgeConfig(List.of(32, 64, 128, 256), 8, 128, 4, 96, 128);

  public ImageTextJudgeConfig {
    imageWidths = List.copyOf(imageWidths);
    checkImageTower(WHERE, imageWidths, normGroups);
    check("text_width", textWidth, 4096);
    check("text_layers", textLayers, 64);
    check("text_max_bytes", textMaxBytes, 4096);
    check("embed_dim", embedDim, 4096);
  }

  /** The image tower's checks (also {@link ClipModelConfig}'s): 1 to 8 widths, positive multiples of normGroups up to 4096. */
  static void checkImageTower(String where, List<Integer> widths, int normGroups) {
    if (widths.isEmpty() || widths.size() > 8) throw new InvalidArgumentException(where + ": image_widths must have 1 to 8 values");
    if (normGroups < 1 || normGroups > 1024)
      throw new InvalidArgumentException(where + ": norm_groups must be 1 to 1024, not " + normGroups);
    for (int w : widths)
      if (w <= 0 || w > 4096 || w % normGroups != 0)
        throw new InvalidArgumentException(where + ": image_widths must be positive multiples of norm_groups ("
            + normGroups + ") up to 4096, not " + w);
  }

  private static void check(String key, int v, int max) {
    if (v <= 0 || v > max) throw new InvalidArgumentException(WHERE + ": " + key + " must be 1 to " + max + ", not " + v);
  }

  /** From config.json keys (defaults: {@link #EMOJI}'s). */
  public static ImageTextJudgeConfig fromJson(JsonNode json) {
    ConfigReader r = new ConfigReader(json, WHERE);
    return new ImageTextJudgeConfig(r.integers("image_widths", EMOJI.imageWidths, 1, 4096), r.integer("norm_groups", 8, 1, 1024),
        r.integer("text_width", 128, 1, 4096), r.integer("text_layers", 4, 1, 64),
        r.integer("text_max_bytes", 96, 1, 4096), r.integer("embed_dim", 128, 1, 4096));
  }

  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    imageWidths.forEach(o.putArray("image_widths")::add);
    o.put("norm_groups", normGroups);
    o.put("text_width", textWidth);
    o.put("text_layers", textLayers);
    o.put("text_max_bytes", textMaxBytes);
    o.put("embed_dim", embedDim);
    return o;
  }

  public ModuleConfig toModuleConfig() {
    return new ModuleConfig().set("image_widths", imageWidths)
        .set("norm_groups", normGroups).set("text_width", textWidth).set("text_layers", textLayers)
        .set("text_max_bytes", textMaxBytes).set("embed_dim", embedDim);
  }
}
