package io.d2g.models;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.nn.NativeModule;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The evaluation suite's judge: a small CLIP-style image–text model of its own (a residual
 * convolutional image tower and a byte-level convolutional text tower, sharing nothing with the
 * teacher), trained contrastively on the emoji corpus and used only to grade other models: Fréchet
 * distance in its image space, text–image score, retrieval ({@link io.d2g.eval}). The text tower reads
 * UTF-8 bytes, so it needs no vocabulary and encodes unseen words through their spelling.
 *
 * <p>Images are [B, 3, H, W] in [-1, 1]; text goes in as {@link #textBytes} of the strings. Both
 * encoders return [B, embed_dim], not normalised (the metrics use cosine similarity). Calls record an
 * autograd graph only inside {@link io.d2g.Autograd#enable()}; training goes through
 * {@link io.d2g.train.ContrastiveStep}. Saved as a diffusers-layout folder (config.json +
 * diffusion_pytorch_model.safetensors).
 */
public final class ImageTextJudge extends NativeModule implements DiffusersModel, ContrastiveModel {
  /** The family, for loaders ({@code io.d2g.hub.DiffusersFolder.load}). */
  public static final ModelFamily<ImageTextJudge> FAMILY =
      new ModelFamily<>("ImageTextJudge", json -> new ImageTextJudge(ImageTextJudgeConfig.fromJson(json)));

  private final ImageTextJudgeConfig config;

  public ImageTextJudge(ImageTextJudgeConfig config) {
    super("image_text_judge", config.toModuleConfig());
    this.config = config;
  }

  public ImageTextJudgeConfig config() {
    return config;
  }

  /** Image embeddings [B, embed_dim] of images [B, 3, H, W] in [-1, 1] (H, W at least 8). */
  @Override
  public Tensor encodeImage(Tensor images) {
    return Access.tensor(Native.judgeEncodeImage(Access.handle(this), Access.handle(images)));
  }

  /** Text embeddings [B, embed_dim] of byte rows as {@link #textBytes} makes them. */
  @Override
  public Tensor encodeText(Tensor bytes) {
    return Access.tensor(Native.judgeEncodeText(Access.handle(this), Access.handle(bytes)));
  }

  /** Text embeddings [B, embed_dim] of the texts. */
  public Tensor encodeText(List<String> texts) {
    try (Tensor bytes = textBytes(texts, config.textMaxBytes())) {
      return encodeText(bytes);
    }
  }

  /**
   * The text tower's input: each text's UTF-8 bytes + 1, cut at {@code maxBytes}, padded with 0 to
   * the longest row, as an i64 tensor [texts, length] on the CPU. Empty texts are refused.
   */
  public static Tensor textBytes(List<String> texts, int maxBytes) {
    if (texts.isEmpty()) throw new InvalidArgumentException("no texts");
    byte[][] rows = new byte[texts.size()][];
    int length = 1;
    for (int i = 0; i < rows.length; i++) {
      String t = texts.get(i);
      if (t == null || t.isEmpty()) throw new InvalidArgumentException("text " + i + " is empty");
      rows[i] = t.getBytes(StandardCharsets.UTF_8);
      length = Math.max(length, Math.min(rows[i].length, maxBytes));
    }
    long[] ids = new long[rows.length * length];
    for (int i = 0; i < rows.length; i++)
      for (int j = 0; j < Math.min(rows[i].length, length); j++) ids[i * length + j] = (rows[i][j] & 0xff) + 1;
    return Tensor.of(ids, rows.length, length);
  }

  @Override
  public String library() {
    return "d2g";
  }

  @Override
  public String className() {
    return "ImageTextJudge";
  }


  @Override
  public ObjectNode configJson() {
    return config.toJson();
  }
}
