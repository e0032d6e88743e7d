package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.nn.ModuleConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * The configuration of a {@link UNet2DConditionModel}: the keys of diffusers' {@code
 * UNet2DConditionModel} config.json with diffusers' defaults (those of SD1.5) and meaning, per-block
 * values spelled out (one per block, and transformer depths one per layer). Read one with {@link
 * #fromJson}, build one with {@link #builder()}; {@link #toJson()} writes config.json again.
 *
 * <p>Supported: the SD 1.x/2.x layouts (CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn,
 * UNetMidBlock2D or none, UpBlock2D, CrossAttnUpBlock2D), nested per-layer transformer depths with
 * {@code reverse_transformer_layers_per_block}, and diffusers' nulls ({@code mid_block_type: null}
 * is no mid block, {@code flip_sin_to_cos: null} is false, a null {@code attention_head_dim} entry
 * is allowed at a block without attention). Class, addition and text-time embeddings, encoder hidden
 * projections, Fourier time embeddings and gated attention are refused by name, not ignored.
 */
public final class UNet2DConditionConfig {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String WHERE = "unet2d_condition";
  private static final Set<String> DOWN = Set.of("CrossAttnDownBlock2D", "DownBlock2D");
  private static final Set<String> UP = Set.of("CrossAttnUpBlock2D", "UpBlock2D");
  private static final Set<String> MID = Set.of("UNetMidBlock2DCrossAttn", "UNetMidBlock2D");

  private final Integer sampleSize;
  private final int inChannels, outChannels;
  private final boolean centerInputSample, flipSinToCos;
  private final double freqShift;
  private final List<String> downBlockTypes, upBlockTypes;
  private final String midBlockType;
  private final List<Integer> blockOutChannels, layersPerBlock, crossAttentionDim, attentionHeadDim;
  private final List<Boolean> onlyCrossAttention;
  private final List<List<Integer>> transformerLayersPerBlock, reverseTransformerLayersPerBlock;
  private final int downsamplePadding, normNumGroups, convInKernel, convOutKernel;
  private final double midBlockScaleFactor, dropout, normEps;
  private final String actFn, resnetTimeScaleShift, timeEmbeddingActFn, timestepPostAct;
  private final boolean useLinearProjection, upcastAttention;
  private final Integer timeEmbeddingDim;

  private UNet2DConditionConfig(Builder b) {
    int n = b.blockOutChannels.size();
    if (n < 1 || n > 16) throw invalid("block_out_channels must have 1 to 16 values");
    if (b.downBlockTypes.size() != n || b.upBlockTypes.size() != n)
      throw invalid("down_block_types (" + b.downBlockTypes.size() + "), up_block_types (" + b.upBlockTypes.size()
          + ") and block_out_channels (" + n + ") must have the same length");
    for (String t : b.downBlockTypes)
      if (!DOWN.contains(strip(t))) throw invalid("down block type '" + t + "' is not supported (supported: " + DOWN + ")");
    for (String t : b.upBlockTypes)
      if (!UP.contains(strip(t))) throw invalid("up block type '" + t + "' is not supported (supported: " + UP + ")");
    if (b.midBlockType != null && !MID.contains(b.midBlockType))
      throw invalid("mid_block_type '" + b.midBlockType + "' is not supported (supported: " + MID + " or null)");
    for (List<?> l : List.of(b.layersPerBlock, b.crossAttentionDim, b.attentionHeadDim, b.onlyCrossAttention))
      if (l.size() != n) throw invalid("every per-block list needs " + n + " values");
    if (b.transformerLayersPerBlock.size() != n) throw invalid("transformer_layers_per_block needs " + n + " blocks");
    for (int i = 0; i < n; i++)
      if (b.transformerLayersPerBlock.get(i).size() != b.layersPerBlock.get(i))
        throw invalid("transformer_layers_per_block of block " + i + " needs " + b.layersPerBlock.get(i) + " values");
    if (b.reverseTransformerLayersPerBlock != null) {
      if (b.reverseTransformerLayersPerBlock.size() != n)
        throw invalid("reverse_transformer_layers_per_block needs " + n + " blocks");
      for (int i = 0; i < n; i++)
        if (b.reverseTransformerLayersPerBlock.get(i).size() != b.layersPerBlock.get(n - 1 - i) + 1)
          throw invalid("reverse_transformer_layers_per_block of up block " + i + " needs "
              + (b.layersPerBlock.get(n - 1 - i) + 1) + " values");
    }
    for (int i = 0; i < n; i++) {
      boolean attention = strip(b.downBlockTypes.get(i)).startsWith("CrossAttn")
          || strip(b.upBlockTypes.get(n - 1 - i)).startsWith("CrossAttn")
          || (i == n - 1 && "UNetMidBlock2DCrossAttn".equals(b.midBlockType));
      if (attention && b.attentionHeadDim.get(i) == null)
        throw invalid("attention_head_dim is null for block " + i + ", which has attention");
    }
    if (!b.resnetTimeScaleShift.equals("default") && !b.resnetTimeScaleShift.equals("scale_shift"))
      throw invalid("resnet_time_scale_shift '" + b.resnetTimeScaleShift + "' is not supported (default, scale_shift)");
    sampleSize = b.sampleSize;
    inChannels = b.inChannels;
    outChannels = b.outChannels;
    centerInputSample = b.centerInputSample;
    flipSinToCos = b.flipSinToCos;
    freqShift = b.freqShift;
    downBlockTypes = List.copyOf(b.downBlockTypes);
    upBlockTypes = List.copyOf(b.upBlockTypes);
    midBlockType = b.midBlockType;
    blockOutChannels = List.copyOf(b.blockOutChannels);
    layersPerBlock = List.copyOf(b.layersPerBlock);
    crossAttentionDim = List.copyOf(b.crossAttentionDim);
    attentionHeadDim = Collections.unmodifiableList(new ArrayList<>(b.attentionHeadDim));
    onlyCrossAttention = List.copyOf(b.onlyCrossAttention);
    transformerLayersPerBlock = copy(b.transformerLayersPerBlock);
    reverseTransformerLayersPerBlock = b.reverseTransformerLayersPerBlock == null ? null
        : copy(b.reverseTransformerLayersPerBlock);
    downsamplePadding = b.downsamplePadding;
    normNumGroups = b.normNumGroups;
    convInKernel = b.convInKernel;
    convOutKernel = b.convOutKernel;
    midBlockScaleFactor = b.midBlockScaleFactor;
    dropout = b.dropout;
    normEps = b.normEps;
    actFn = b.actFn;
    resnetTimeScaleShift = b.resnetTimeScaleShift;
    timeEmbeddingActFn = b.timeEmbeddingActFn;
    timestepPostAct = b.timestepPostAct;
    useLinearProjection = b.useLinearProjection;
    upcastAttention = b.upcastAttention;
    timeEmbeddingDim = b.timeEmbeddingDim;
  }

  private static List<List<Integer>> copy(List<List<Integer>> l) {
    List<List<Integer>> out = new ArrayList<>();
    for (List<Integer> x : l) out.add(List.copyOf(x));
    return List.copyOf(out);
  }

  private static String strip(String t) {
    return t.startsWith("UNetRes") ? t.substring(7) : t;
  }

  private static InvalidArgumentException invalid(String what) {
    return new InvalidArgumentException(WHERE + ": " + what);
  }

  /** A builder with SD1.5's UNet configuration. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.sampleSize = sampleSize;
    b.inChannels = inChannels;
    b.outChannels = outChannels;
    b.centerInputSample = centerInputSample;
    b.flipSinToCos = flipSinToCos;
    b.freqShift = freqShift;
    b.downBlockTypes = downBlockTypes;
    b.upBlockTypes = upBlockTypes;
    b.midBlockType = midBlockType;
    b.blockOutChannels = blockOutChannels;
    b.layersPerBlock = layersPerBlock;
    b.crossAttentionDim = crossAttentionDim;
    b.attentionHeadDim = attentionHeadDim;
    b.onlyCrossAttention = onlyCrossAttention;
    b.transformerLayersPerBlock = transformerLayersPerBlock;
    b.reverseTransformerLayersPerBlock = reverseTransformerLayersPerBlock;
    b.downsamplePadding = downsamplePadding;
    b.normNumGroups = normNumGroups;
    b.convInKernel = convInKernel;
    b.convOutKernel = convOutKernel;
    b.midBlockScaleFactor = midBlockScaleFactor;
    b.dropout = dropout;
    b.normEps = normEps;
    b.actFn = actFn;
    b.resnetTimeScaleShift = resnetTimeScaleShift;
    b.timeEmbeddingActFn = timeEmbeddingActFn;
    b.timestepPostAct = timestepPostAct;
    b.useLinearProjection = useLinearProjection;
    b.upcastAttention = upcastAttention;
    b.timeEmbeddingDim = timeEmbeddingDim;
    b.layersDefault = layersPerBlock.get(0);
    b.crossDefault = crossAttentionDim.get(0);
    b.headsDefault = attentionHeadDim.get(0) == null ? 8 : attentionHeadDim.get(0);
    b.transformerDefault = transformerLayersPerBlock.get(0).isEmpty() ? 1 : transformerLayersPerBlock.get(0).get(0);
    return b;
  }

  /** Reads a diffusers config.json (keys this model does not use are ignored, as diffusers ignores them). */
  public static UNet2DConditionConfig fromJson(JsonNode json) {
    ConfigReader r = new ConfigReader(json, WHERE);
    String why = "Stable Diffusion 1.x/2.x UNets leave it null";
    for (String key : List.of("class_embed_type", "addition_embed_type", "encoder_hid_dim", "encoder_hid_dim_type",
        "num_class_embeds", "time_cond_proj_dim", "projection_class_embeddings_input_dim", "addition_time_embed_dim",
        "cross_attention_norm"))
      r.refuseUnless(key, null, why);
    r.refuseUnless("num_attention_heads", null, "diffusers refuses it too (its heads come from attention_head_dim)");
    r.refuseUnless("dual_cross_attention", false, "only false");
    r.refuseUnless("attention_type", "default", "only default");
    r.refuseUnless("time_embedding_type", "positional", "only positional");
    Builder b = new Builder();
    b.blockOutChannels = r.integers("block_out_channels", b.blockOutChannels, 1, 1 << 16);
    int n = b.blockOutChannels.size();
    b.downBlockTypes = r.strings("down_block_types", b.downBlockTypes);
    b.upBlockTypes = r.strings("up_block_types", b.upBlockTypes);
    if (b.downBlockTypes.size() != n || b.upBlockTypes.size() != n)
      throw invalid("down_block_types (" + b.downBlockTypes.size() + "), up_block_types (" + b.upBlockTypes.size()
          + ") and block_out_channels (" + n + ") must have the same length");
    b.midBlockType = r.nullableString("mid_block_type", b.midBlockType);
    b.sampleSize = r.nullableInteger("sample_size", null, 1, 1 << 16);
    b.inChannels = r.integer("in_channels", b.inChannels, 1, 4096);
    b.outChannels = r.integer("out_channels", b.outChannels, 1, 4096);
    b.centerInputSample = r.bool("center_input_sample", false, true);
    b.flipSinToCos = r.bool("flip_sin_to_cos", true, true);
    b.freqShift = r.number("freq_shift", 0, -1e6, 1e6);
    b.layersPerBlock = r.perBlock("layers_per_block", 2, n, 1, 64, false);
    b.crossAttentionDim = r.perBlock("cross_attention_dim", 1280, n, 1, 1 << 16, false);
    b.attentionHeadDim = r.perBlock("attention_head_dim", 8, n, 1, 4096, true);
    b.onlyCrossAttention = r.perBlockBool("only_cross_attention", false, n);
    if (r.bool("mid_block_only_cross_attention", false, true)
        || (!r.has("mid_block_only_cross_attention") && json.path("only_cross_attention").asBoolean(false)))
      throw invalid("a mid block with only cross attention (mid_block_only_cross_attention) is not supported");
    b.transformerLayersPerBlock = r.perBlockPerLayer("transformer_layers_per_block", 1, b.layersPerBlock, 0, 64);
    List<Integer> upLayers = new ArrayList<>();
    for (int i = 0; i < n; i++) upLayers.add(b.layersPerBlock.get(n - 1 - i) + 1);
    b.reverseTransformerLayersPerBlock = r.perBlockPerLayer("reverse_transformer_layers_per_block", null, upLayers, 0, 64);
    if (r.nested("transformer_layers_per_block") && b.reverseTransformerLayersPerBlock == null)
      throw new InvalidArgumentException(WHERE + ": config key 'transformer_layers_per_block' is a nested list, which "
          + "needs reverse_transformer_layers_per_block (diffusers: 'Must provide reverse_transformer_layers_per_block "
          + "if using asymmetrical UNet')");
    b.downsamplePadding = r.integer("downsample_padding", 1, 0, 8);
    b.midBlockScaleFactor = r.number("mid_block_scale_factor", 1, 1e-6, 1e6);
    b.dropout = r.number("dropout", 0, 0, 0.999);
    b.actFn = r.string("act_fn", "silu");
    b.normNumGroups = r.integer("norm_num_groups", 32, 1, 4096);
    b.normEps = r.number("norm_eps", 1e-5, 0, 1);
    b.useLinearProjection = r.bool("use_linear_projection", false, true);
    b.upcastAttention = r.bool("upcast_attention", false, true);
    b.resnetTimeScaleShift = r.string("resnet_time_scale_shift", "default");
    b.convInKernel = r.integer("conv_in_kernel", 3, 1, 15);
    b.convOutKernel = r.integer("conv_out_kernel", 3, 1, 15);
    b.timeEmbeddingDim = r.nullableInteger("time_embedding_dim", null, 1, 1 << 18);
    b.timeEmbeddingActFn = r.nullableString("time_embedding_act_fn", null);
    b.timestepPostAct = r.nullableString("timestep_post_act", null);
    return b.build();
  }

  /** {@link #fromJson} of a config.json file. */
  public static UNet2DConditionConfig read(java.nio.file.Path configJson) {
    return fromJson(ConfigReader.readFile(configJson));
  }

  /** {@link #fromJson} of the given config.json keys (for code and tests). */
  public static UNet2DConditionConfig of(java.util.Map<String, ?> keys) {
    return fromJson(JSON.valueToTree(keys));
  }

  /** The config.json diffusers writes for this configuration (without the class and version keys). */
  public ObjectNode toJson() {
    ObjectNode o = JSON.createObjectNode();
    o.put("act_fn", actFn);
    ArrayNode heads = o.putArray("attention_head_dim");
    attentionHeadDim.forEach(h -> {
      if (h == null) heads.addNull();
      else heads.add(h);
    });
    ints(o.putArray("block_out_channels"), blockOutChannels);
    o.put("center_input_sample", centerInputSample);
    o.put("conv_in_kernel", convInKernel);
    o.put("conv_out_kernel", convOutKernel);
    ints(o.putArray("cross_attention_dim"), crossAttentionDim);
    downBlockTypes.forEach(o.putArray("down_block_types")::add);
    o.put("downsample_padding", downsamplePadding);
    o.put("dropout", dropout);
    o.put("flip_sin_to_cos", flipSinToCos);
    o.put("freq_shift", freqShift);
    o.put("in_channels", inChannels);
    ints(o.putArray("layers_per_block"), layersPerBlock);
    o.put("mid_block_scale_factor", midBlockScaleFactor);
    if (midBlockType == null) o.putNull("mid_block_type");
    else o.put("mid_block_type", midBlockType);
    o.put("norm_eps", normEps);
    o.put("norm_num_groups", normNumGroups);
    onlyCrossAttention.forEach(o.putArray("only_cross_attention")::add);
    o.put("out_channels", outChannels);
    o.put("resnet_time_scale_shift", resnetTimeScaleShift);
    nested(o, "reverse_transformer_layers_per_block", reverseTransformerLayersPerBlock);
    if (sampleSize == null) o.putNull("sample_size");
    else o.put("sample_size", sampleSize);
    if (timeEmbeddingActFn == null) o.putNull("time_embedding_act_fn");
    else o.put("time_embedding_act_fn", timeEmbeddingActFn);
    if (timeEmbeddingDim == null) o.putNull("time_embedding_dim");
    else o.put("time_embedding_dim", timeEmbeddingDim);
    if (timestepPostAct == null) o.putNull("timestep_post_act");
    else o.put("timestep_post_act", timestepPostAct);
    compact(o, "transformer_layers_per_block", transformerLayersPerBlock);
    upBlockTypes.forEach(o.putArray("up_block_types")::add);
    o.put("upcast_attention", upcastAttention);
    o.put("use_linear_projection", useLinearProjection);
    return o;
  }

  private static void ints(ArrayNode a, List<Integer> v) {
    v.forEach(a::add);
  }

  /** The shortest form diffusers reads back the same: one integer, one per block, or per block and layer. */
  private static void compact(ObjectNode o, String key, List<List<Integer>> v) {
    boolean perBlock = v.stream().allMatch(l -> l.stream().distinct().count() <= 1);
    List<Integer> firsts = v.stream().map(l -> l.isEmpty() ? 1 : l.get(0)).toList();
    if (perBlock && firsts.stream().distinct().count() == 1) o.put(key, firsts.get(0));
    else if (perBlock) ints(o.putArray(key), firsts);
    else nested(o, key, v);
  }

  private static void nested(ObjectNode o, String key, List<List<Integer>> v) {
    if (v == null) {
      o.putNull(key);
      return;
    }
    ArrayNode a = o.putArray(key);
    for (List<Integer> inner : v) ints(a.addArray(), inner);
  }

  /** The configuration the native UNet is created from. */
  public ModuleConfig toModuleConfig() {
    ModuleConfig c = new ModuleConfig()
        .set("in_channels", inChannels).set("out_channels", outChannels)
        .set("center_input_sample", centerInputSample).set("flip_sin_to_cos", flipSinToCos)
        .set("freq_shift", freqShift)
        .set("down_block_types", downBlockTypes.stream().map(UNet2DConditionConfig::strip).toList())
        .set("up_block_types", upBlockTypes.stream().map(UNet2DConditionConfig::strip).toList())
        .set("mid_block_type", midBlockType == null ? "none" : midBlockType)
        .set("block_out_channels", blockOutChannels).set("layers_per_block", layersPerBlock)
        .set("cross_attention_dim", crossAttentionDim)
        .set("attention_head_dim", attentionHeadDim.stream().map(h -> h == null ? 0 : h).toList())
        .set("only_cross_attention", onlyCrossAttention)
        .setNested("transformer_layers_per_block", transformerLayersPerBlock)
        .set("downsample_padding", downsamplePadding).set("mid_block_scale_factor", midBlockScaleFactor)
        .set("dropout", dropout).set("act_fn", actFn).set("norm_num_groups", normNumGroups).set("norm_eps", normEps)
        .set("use_linear_projection", useLinearProjection).set("upcast_attention", upcastAttention)
        .set("resnet_time_scale_shift", resnetTimeScaleShift)
        .set("conv_in_kernel", convInKernel).set("conv_out_kernel", convOutKernel);
    if (reverseTransformerLayersPerBlock != null)
      c.setNested("reverse_transformer_layers_per_block", reverseTransformerLayersPerBlock);
    if (timeEmbeddingDim != null) c.set("time_embedding_dim", timeEmbeddingDim);
    if (timeEmbeddingActFn != null) c.set("time_embedding_act_fn", timeEmbeddingActFn);
    if (timestepPostAct != null) c.set("timestep_post_act", timestepPostAct);
    return c;
  }

  // ---- accessors ----

  /** The latent side the UNet was trained on (diffusers' sample_size), or null when the config has none. */
  public Integer sampleSize() {
    return sampleSize;
  }

  public int inChannels() {
    return inChannels;
  }

  public int outChannels() {
    return outChannels;
  }

  public List<Integer> blockOutChannels() {
    return blockOutChannels;
  }

  public List<String> downBlockTypes() {
    return downBlockTypes;
  }

  public List<String> upBlockTypes() {
    return upBlockTypes;
  }

  /** The mid block's type, or null for none. */
  public String midBlockType() {
    return midBlockType;
  }

  public List<Integer> layersPerBlock() {
    return layersPerBlock;
  }

  public List<Integer> crossAttentionDim() {
    return crossAttentionDim;
  }

  /** diffusers' attention_head_dim, which is the number of heads per block (null where unused). */
  public List<Integer> attentionHeadDim() {
    return attentionHeadDim;
  }

  /** Transformer blocks per attention of each down block. */
  public List<List<Integer>> transformerLayersPerBlock() {
    return transformerLayersPerBlock;
  }

  /** Transformer blocks per attention of each up block (deepest first), or null: the down blocks' reversed. */
  public List<List<Integer>> reverseTransformerLayersPerBlock() {
    return reverseTransformerLayersPerBlock;
  }

  public boolean flipSinToCos() {
    return flipSinToCos;
  }

  public int normNumGroups() {
    return normNumGroups;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof UNet2DConditionConfig c && c.toJson().equals(toJson());
  }

  @Override
  public int hashCode() {
    return toJson().hashCode();
  }

  @Override
  public String toString() {
    return "UNet2DConditionConfig" + toJson();
  }

  /** Builds a configuration; unset values are SD1.5's. Per-block setters take one value per block. */
  public static final class Builder {
    private Integer sampleSize = 64;
    private int inChannels = 4, outChannels = 4;
    private boolean centerInputSample, flipSinToCos = true;
    private double freqShift;
    private List<String> downBlockTypes = List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D", "DownBlock2D");
    private List<String> upBlockTypes = List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D");
    private String midBlockType = "UNetMidBlock2DCrossAttn";
    private List<Integer> blockOutChannels = List.of(320, 640, 1280, 1280);
    private List<Integer> layersPerBlock, crossAttentionDim, attentionHeadDim;
    private List<Boolean> onlyCrossAttention;
    private List<List<Integer>> transformerLayersPerBlock, reverseTransformerLayersPerBlock;
    private int downsamplePadding = 1, normNumGroups = 32, convInKernel = 3, convOutKernel = 3;
    private double midBlockScaleFactor = 1, dropout, normEps = 1e-5;
    private String actFn = "silu", resnetTimeScaleShift = "default", timeEmbeddingActFn, timestepPostAct;
    private boolean useLinearProjection, upcastAttention;
    private Integer timeEmbeddingDim;
    private int layersDefault = 2, crossDefault = 1280, headsDefault = 8, transformerDefault = 1;

    private Builder() {}

    public Builder sampleSize(Integer s) {
      sampleSize = s;
      return this;
    }

    public Builder inChannels(int c) {
      inChannels = c;
      return this;
    }

    public Builder outChannels(int c) {
      outChannels = c;
      return this;
    }

    /** The blocks: their types (down, up) and output channels, from the highest resolution down. */
    public Builder blocks(List<String> down, List<String> up, List<Integer> channels) {
      downBlockTypes = List.copyOf(down);
      upBlockTypes = List.copyOf(up);
      blockOutChannels = List.copyOf(channels);
      // per-block values follow the new block count, from the scalar settings
      layersPerBlock = crossAttentionDim = attentionHeadDim = null;
      onlyCrossAttention = null;
      transformerLayersPerBlock = reverseTransformerLayersPerBlock = null;
      return this;
    }

    /** The mid block's type, or null for none. */
    public Builder midBlockType(String t) {
      midBlockType = t;
      return this;
    }

    public Builder layersPerBlock(int l) {
      layersDefault = l;
      layersPerBlock = null;
      return this;
    }

    public Builder crossAttentionDim(int d) {
      crossDefault = d;
      crossAttentionDim = null;
      return this;
    }

    /** Heads per attention (diffusers' attention_head_dim, which counts heads). */
    public Builder attentionHeads(int h) {
      headsDefault = h;
      attentionHeadDim = null;
      return this;
    }

    public Builder transformerLayers(int t) {
      transformerDefault = t;
      transformerLayersPerBlock = null;
      return this;
    }

    public Builder normNumGroups(int g) {
      normNumGroups = g;
      return this;
    }

    public Builder normEps(double e) {
      normEps = e;
      return this;
    }

    public Builder useLinearProjection(boolean b) {
      useLinearProjection = b;
      return this;
    }

    public Builder flipSinToCos(boolean b) {
      flipSinToCos = b;
      return this;
    }

    public Builder dropout(double p) {
      dropout = p;
      return this;
    }

    public Builder actFn(String a) {
      actFn = a;
      return this;
    }

    public UNet2DConditionConfig build() {
      int n = blockOutChannels.size();
      if (layersPerBlock == null) layersPerBlock = Collections.nCopies(n, layersDefault);
      if (crossAttentionDim == null) crossAttentionDim = Collections.nCopies(n, crossDefault);
      if (attentionHeadDim == null) attentionHeadDim = Collections.nCopies(n, headsDefault);
      if (onlyCrossAttention == null) onlyCrossAttention = Collections.nCopies(n, false);
      if (transformerLayersPerBlock == null || transformerLayersPerBlock.size() != n) {
        List<List<Integer>> t = new ArrayList<>();
        for (int i = 0; i < n && i < layersPerBlock.size(); i++)
          t.add(Collections.nCopies(layersPerBlock.get(i), transformerDefault));
        transformerLayersPerBlock = t;
      }
      return new UNet2DConditionConfig(this);
    }
  }
}
