package io.d2g.models;

import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.nn.NativeModule;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Contrastive text–image pretraining of a Stable Diffusion text encoder, the way SD's own text
 * encoder (OpenAI's CLIP) was made: transformers' {@code CLIPModel}, with the judge's small residual
 * convolutional image tower in place of CLIP's ViT (native/src/models/clip_model.hpp). Trained by
 * {@link io.d2g.train.ContrastiveStep} on (picture, caption) pairs; {@link #textEncoder} then gives the
 * text encoder alone, for a teacher to start from (examples' {@code pretrain-text-encoder}).
 *
 * <p>Text goes in as token ids [B, T] (as {@link ClipTextModel} takes them: the tokenizer's padded
 * rows); the text embedding is {@code text_projection(pooled)}. State names: the text side exactly as
 * {@code CLIPTextModelWithProjection}'s ({@code text_model.*}, {@code text_projection.weight}),
 * {@code vision_model.*}, {@code logit_scale}.
 */
public final class ClipModel extends NativeModule implements ContrastiveModel {
  private static final String TEXT = "text_model.";

  private final ClipModelConfig config;

  public ClipModel(ClipModelConfig config) {
    super("clip_model", config.toModuleConfig());
    this.config = config;
  }

  public ClipModelConfig config() {
    return config;
  }

  /** Image embeddings [B, projection_dim] of images [B, 3, H, W] in [-1, 1] (H, W at least 8). */
  @Override
  public Tensor encodeImage(Tensor images) {
    return Access.tensor(Native.judgeEncodeImage(Access.handle(this), Access.handle(images)));
  }

  /** Text embeddings [B, projection_dim] of token ids [B, T]. */
  @Override
  public Tensor encodeText(Tensor ids) {
    return Access.tensor(Native.judgeEncodeText(Access.handle(this), Access.handle(ids)));
  }

  /**
   * A new text encoder ({@code config} of the same architecture; with or without its projection, as
   * that config says) holding copies of this model's text weights, on the CPU in f32.
   */
  public ClipTextModel textEncoder(ClipTextConfig textConfig) {
    Map<String, Tensor> state = state();
    Map<String, Tensor> text = new LinkedHashMap<>();
    state.forEach((k, v) -> {
      if (k.startsWith(TEXT) || (textConfig.withProjection() && k.equals(ClipTextModel.PROJECTION))) text.put(k, v);
    });
    ClipTextModel out = new ClipTextModel(textConfig);
    try {
      out.loadState(text, true);
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    } finally {
      state.values().forEach(Tensor::close);
    }
  }
}
