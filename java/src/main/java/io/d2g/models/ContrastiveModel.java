package io.d2g.models;

import io.d2g.Tensor;

/**
 * A CLIP-style text–image model trained by {@link io.d2g.train.ContrastiveStep}: two encoders into
 * one embedding space. {@link ImageTextJudge} (the evaluation suite's judge, byte-level text) and
 * {@link ClipModel} (contrastive pretraining of a Stable Diffusion text encoder, token ids) are the two.
 */
public sealed interface ContrastiveModel permits ImageTextJudge, ClipModel {
  /** Image embeddings [B, E] of images [B, 3, H, W] in [-1, 1] (H, W at least 8), not normalised. */
  Tensor encodeImage(Tensor images);

  /** Text embeddings [B, E] of the model's text input (see the implementation), not normalised. */
  Tensor encodeText(Tensor text);
}
