package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.nn.ModuleConfig;
import java.util.Map;
import java.util.Set;

/**
 * The configuration of a {@link ClipTextModel}: the keys of transformers' {@code CLIPTextConfig}
 * with its defaults, and whether the model carries a projection ({@code CLIPTextModelWithProjection},
 * SDXL's second text encoder: {@code text_projection}, {@code projectionDim} wide).
 *
 * @param eosTokenId transformers' pooling rule: 2 (the legacy value) pools at the largest id, anything
 *     else at the first position holding it
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
    int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct, double layerNormEps, double attentionDropout,
    int bosTokenId, int eosTokenId, int padTokenId, int projectionDim, boolean withProjection) {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String WHERE = "clip_text_model";
  private static final Set<String> ACTS = Set.of("quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu");

  /** SD1.5's text encoder (OpenAI CLIP ViT-L/14's). */
  public static final ClipTextConfig SD15 = new ClipTextConfig(49408, 768, 3072, 12, 12, 77, "quick_gelu", 1e-5, 0.0,
      0, 2, 1, 768, false);

  public ClipTextConfig {
    check("vocab_size", vocabSize, 1, 1 << 24);
    check("hidden_size", hiddenSize, 1, 1 << 16);
    check("intermediate_size", intermediateSize, 1, 1 << 18);
    check("num_hidden_layers", numHiddenLayers, 0, 256);
    check("num_attention_heads", numAttentionHeads, 1, 4096);
    check("max_position_embeddings", maxPositionEmbeddings, 1, 1 << 16);
    check("projection_dim", projectionDim, 1, 1 << 16);
    if (hiddenSize % numAttentionHeads != 0)
      throw new InvalidArgumentException(WHERE + ": hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
          + numAttentionHeads);
    if (!ACTS.contains(hiddenAct))
      throw new InvalidArgumentException(WHERE + ": hidden_act '" + hiddenAct + "' is not supported (use one of " + ACTS + ")");
    if (!(layerNormEps > 0 && layerNormEps < 1)) throw new InvalidArgumentException(WHERE + ": layer_norm_eps must be in (0, 1)");
    if (!(attentionDropout >= 0 && attentionDropout < 1))
      throw new InvalidArgumentException(WHERE + ": attention_dropout must be in [0, 1)");
  }

  private static void check(String key, int v, int min, int max) {
    if (v < min || v > max)
      throw new InvalidArgumentException(WHERE + ": config key '" + key + "' must be " + min + " to " + max + ", not " + v);
  }

  /** Reads a transformers config.json of a CLIPTextModel or CLIPTextModelWithProjection. */
  public static ClipTextConfig fromJson(JsonNode json) {
    ConfigReader r = new ConfigReader(json, WHERE);
    boolean projection = false;
    for (JsonNode a : json.path("architectures")) projection |= a.asText().equals("CLIPTextModelWithProjection");
    return new ClipTextConfig(
        r.integer("vocab_size", 49408, 1, 1 << 24), r.integer("hidden_size", 512, 1, 1 << 16),
        r.integer("intermediate_size", 2048, 1, 1 << 18), r.integer("num_hidden_layers", 12, 0, 256),
        r.integer("num_attention_heads", 8, 1, 4096), r.integer("max_position_embeddings", 77, 1, 1 << 16),
        r.string("hidden_act", "quick_gelu"), r.number("layer_norm_eps", 1e-5, 1e-12, 0.5),
        r.number("attention_dropout", 0.0, 0, 0.999), r.integer("bos_token_id", 49406, 0, Integer.MAX_VALUE),
        r.integer("eos_token_id", 49407, 0, Integer.MAX_VALUE), r.integer("pad_token_id", 1, 0, Integer.MAX_VALUE),
        r.integer("projection_dim", 512, 1, 1 << 16), projection);
  }

  /** {@link #fromJson} of a config.json file. */
  public static ClipTextConfig read(java.nio.file.Path configJson) {
    return fromJson(ConfigReader.readFile(configJson));
  }

  /** {@link #fromJson} of the given config.json keys (for code and tests). */
  public static ClipTextConfig of(Map<String, ?> keys) {
    return fromJson(JSON.valueToTree(keys));
  }

  /** The config.json transformers writes for this configuration. */
  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    o.putArray("architectures").add(withProjection ? "CLIPTextModelWithProjection" : "CLIPTextModel");
    o.put("attention_dropout", attentionDropout);
    o.put("bos_token_id", bosTokenId);
    o.put("eos_token_id", eosTokenId);
    o.put("hidden_act", hiddenAct);
    o.put("hidden_size", hiddenSize);
    o.put("intermediate_size", intermediateSize);
    o.put("layer_norm_eps", layerNormEps);
    o.put("max_position_embeddings", maxPositionEmbeddings);
    o.put("model_type", "clip_text_model");
    o.put("num_attention_heads", numAttentionHeads);
    o.put("num_hidden_layers", numHiddenLayers);
    o.put("pad_token_id", padTokenId);
    o.put("projection_dim", projectionDim);
    o.put("vocab_size", vocabSize);
    return o;
  }

  /** The configuration the native text encoder is created from. */
  public ModuleConfig toModuleConfig() {
    return new ModuleConfig().set("vocab_size", vocabSize).set("hidden_size", hiddenSize)
        .set("intermediate_size", intermediateSize).set("num_hidden_layers", numHiddenLayers)
        .set("num_attention_heads", numAttentionHeads).set("max_position_embeddings", maxPositionEmbeddings)
        .set("hidden_act", hiddenAct).set("layer_norm_eps", layerNormEps).set("attention_dropout", attentionDropout)
        .set("eos_token_id", eosTokenId).set("projection_dim", withProjection ? projectionDim : 0);
  }
}
