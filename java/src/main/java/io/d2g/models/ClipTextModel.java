package io.d2g.models;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Stable Diffusion text encoder: transformers' {@code CLIPTextModel}, created from its
 * config.json keys (a CLIPTextConfig), with parameters named like the {@code text_model.*} keys of
 * every released SD text encoder checkpoint. Input: token ids [batch, tokens] (i64, e.g. from {@link
 * io.d2g.hub.ClipTokenizer#encodeBatch}), on any device. Calls record no autograd graph.
 *
 * <p>Which states a pipeline uses: SD1.5 and SD2.x take {@link #lastHiddenState} (SD2's text encoder
 * already has its last layer removed); diffusers' {@code clip_skip=k} takes {@code
 * final_layer_norm(hidden_states[-(k+1)])}, which is {@link #promptEmbeds(Tensor, int)}.
 */
public final class ClipTextModel extends NativeModule implements DiffusersModel {
  /** The family, for loaders: transformers' CLIPTextModel and CLIPTextModelWithProjection. */
  public static final ModelFamily<ClipTextModel> FAMILY =
      new ModelFamily<>("CLIPTextModel", json -> new ClipTextModel(ClipTextConfig.fromJson(json)));

  private final ClipTextConfig config;

  /** The state key of the position ids buffer, which older checkpoints carry and transformers ignores. */
  public static final String POSITION_IDS = "text_model.embeddings.position_ids";
  /** The state key of CLIPTextModelWithProjection's projection. */
  public static final String PROJECTION = "text_projection.weight";

  /** A forward's outputs; either may be null when it was not asked for. Owns both. */
  public record Output(Tensor hidden, Tensor pooled) implements AutoCloseable {
    @Override
    public void close() {
      try {
        if (hidden != null) hidden.close();
      } finally {
        if (pooled != null) pooled.close();
      }
    }
  }

  public ClipTextModel(ClipTextConfig config) {
    super("clip_text_model", config.toModuleConfig());
    this.config = config;
  }

  public ClipTextConfig config() {
    return config;
  }

  @Override
  public String library() {
    return "transformers";
  }

  @Override
  public String className() {
    return config.withProjection() ? "CLIPTextModelWithProjection" : "CLIPTextModel";
  }


  @Override
  public ObjectNode configJson() {
    return config.toJson();
  }

  /**
   * hidden_states[hiddenLayer] as transformers numbers them (0 = embeddings, i = after encoder
   * layer i, negative from the end: -1 = last, -2 = penultimate), through the final layer norm if
   * {@code finalLayerNorm}, [batch, tokens, hidden_size]; and, if {@code pooled}, the pooled output
   * (the last hidden state at each row's EOS token) [batch, hidden_size].
   */
  public Output forward(Tensor inputIds, int hiddenLayer, boolean finalLayerNorm, boolean pooled) {
    MemorySegment[] out = Native.clipTextForward(Access.handle(this), Access.handle(inputIds), hiddenLayer,
        finalLayerNorm, true, pooled);
    Tensor h = Access.tensor(out[0]);
    Tensor p = pooled ? Access.tensor(out[1]) : null;
    return new Output(h, p);
  }

  /** transformers' last_hidden_state: the last layer's output through the final layer norm. */
  public Tensor lastHiddenState(Tensor inputIds) {
    return forward(inputIds, -1, true, false).hidden();
  }

  /** transformers' pooler_output: the last hidden state at each row's EOS token. */
  public Tensor pooled(Tensor inputIds) {
    return Access.tensor(Native.clipTextForward(Access.handle(this), Access.handle(inputIds), -1, true, false, true)[1]);
  }

  /**
   * CLIPTextModelWithProjection's {@code text_embeds}: {@code text_projection(pooled)}, [batch,
   * projection_dim] (no normalisation). Only for a config with a projection.
   */
  public Tensor textEmbeds(Tensor pooled) {
    if (!config.withProjection())
      throw new io.d2g.InvalidArgumentException("this text encoder has no projection (its config is a CLIPTextModel's)");
    return Access.tensor(Native.clipTextProject(Access.handle(this), Access.handle(pooled)));
  }

  /**
   * The UNet's text conditioning as diffusers' Stable Diffusion pipelines compute it: clipSkip 0 is
   * the last hidden state; clipSkip k > 0 is final_layer_norm(hidden_states[-(k+1)]).
   */
  public Tensor promptEmbeds(Tensor inputIds, int clipSkip) {
    if (clipSkip < 0) throw new io.d2g.InvalidArgumentException("clipSkip must be >= 0, got " + clipSkip);
    return forward(inputIds, -(clipSkip + 1), true, false).hidden();
  }

  /**
   * Loads a text encoder checkpoint, accepting both layouts in use: keys with the {@code
   * text_model.} prefix (transformers 4.x, every released SD checkpoint, and CLIPTextModelWithProjection
   * in transformers 5) and without it (transformers 5 writes a plain CLIPTextModel so); the {@code
   * position_ids} buffer some older files carry is dropped, as transformers does. Everything else is strict as in {@link NativeModule#loadState}.
   */
  @Override
  public void loadState(Map<String, Tensor> tensors, boolean strict) {
    super.loadState(checkpointKeys(tensors), strict);
  }

  /** A checkpoint's tensors under this module's state names (see {@link #loadState}). */
  public static Map<String, Tensor> checkpointKeys(Map<String, Tensor> tensors) {
    boolean prefixed = tensors.keySet().stream().anyMatch(k -> k.startsWith("text_model."));
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (var e : tensors.entrySet()) {
      String key = e.getKey();
      // the projection sits beside text_model, never under it
      String k = prefixed || key.equals(PROJECTION) ? key : "text_model." + key;
      if (!k.equals(POSITION_IDS)) out.put(k, e.getValue());
    }
    return out;
  }
}
