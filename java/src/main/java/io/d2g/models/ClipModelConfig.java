package io.d2g.models;

import io.d2g.InvalidArgumentException;
import io.d2g.nn.ModuleConfig;
import java.util.List;

/**
 * The configuration of a {@link ClipModel}: its text encoder's ({@link ClipTextConfig}; the embedding
 * width is its {@code projectionDim}) and the image tower's stage widths and GroupNorm group count
 * (the judge's tower, {@link ImageTextJudgeConfig}).
 */
public record ClipModelConfig(ClipTextConfig text, List<Integer> imageWidths, int normGroups) {
  static final String WHERE = "clip_model";

  public ClipModelConfig {
    if (text == null) throw new InvalidArgumentException(WHERE + ": a text encoder config is required");
    imageWidths = List.copyOf(imageWidths);
    ImageTextJudgeConfig.checkImageTower(WHERE, imageWidths, normGroups);
  }

  /** The embedding width: the text encoder's projection_dim. */
  public int embedDim() {
    return text.projectionDim();
  }

  public ModuleConfig toModuleConfig() {
    return text.toModuleConfig().set("projection_dim", text.projectionDim()).set("image_widths", imageWidths)
        .set("norm_groups", normGroups);
  }
}
