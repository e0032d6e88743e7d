package io.d2g.hub;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.io.Fixtures;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.models.ClipTextModelTest;
import io.d2g.nn.NativeModule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiffusersFolderTest {
  @TempDir Path tmp;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A pipeline folder made of the committed fixtures: text_encoder, tokenizer, vae. */
  private Path pipeline() throws IOException {
    Path root = tmp.resolve("sd");
    Path te = Files.createDirectories(root.resolve("text_encoder"));
    Path clip = Fixtures.path("sd", "clip_tiny");
    Files.copy(clip.resolve("config.json"), te.resolve("config.json"));
    Files.copy(clip.resolve("model.safetensors"), te.resolve("model.safetensors"));
    Path tok = Files.createDirectories(root.resolve("tokenizer"));
    Fixtures.gunzip(Fixtures.path("clip-tokenizer", "vocab.json.gz"), tok.resolve("vocab.json"));
    Fixtures.gunzip(Fixtures.path("clip-tokenizer", "merges.txt.gz"), tok.resolve("merges.txt"));
    Path vae = Files.createDirectories(root.resolve("vae"));
    Path vfx = Fixtures.path("sd", "vae_tiny");
    Files.copy(vfx.resolve("config.json"), vae.resolve("config.json"));
    Files.copy(vfx.resolve("diffusion_pytorch_model.safetensors"), vae.resolve("diffusion_pytorch_model.safetensors"));
    Files.writeString(root.resolve("model_index.json"), """
        {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
         "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
         "vae": ["diffusers", "AutoencoderKL"], "safety_checker": [null, null]}""");
    return root;
  }

  private static <T extends Throwable> T assertMessage(Class<T> type, Runnable r, String... needles) {
    T e = assertThrows(type, r::run);
    for (String n : needles) assertTrue(e.getMessage().contains(n), "'" + n + "' not in: " + e.getMessage());
    return e;
  }

  @Test
  void loadsTheComponentsOfAPipelineFolder() throws IOException {
    DiffusersFolder folder = DiffusersFolder.open(pipeline());
    assertEquals("StableDiffusionPipeline", folder.pipelineClass());
    assertEquals(List.of("text_encoder", "tokenizer", "vae"), List.copyOf(folder.components().keySet()));
    assertEquals(49407, folder.tokenizer().encode("a photo of a cat")[6]);
    try (ClipTextModel te = folder.textEncoder(); AutoencoderKL vae = folder.load("vae", AutoencoderKL.FAMILY);
        SafetensorsFile io = Safetensors.open(Fixtures.path("sd", "clip_tiny", "io.safetensors"));
        TensorScope s = new TensorScope()) {
      Tensor got = s.track(te.lastHiddenState(s.track(io.tensor("input_ids"))));
      assertTrue(ClipTextModelTest.relError(got, s.track(io.tensor("last_hidden_state"))) <= 1e-4);
      assertEquals(0.18215, vae.scalingFactor(), 0);
      assertTrue(vae.stateNames().contains("decoder.conv_out.weight"));
    }
    assertMessage(CheckpointException.class, () -> folder.componentDir("unet"), "lists no component 'unet'");
    assertMessage(CheckpointException.class, () -> folder.componentDir("safety_checker"), "lists no component");
  }

  @Test
  void savedFoldersLoadBackIdentically() throws IOException {
    DiffusersFolder folder = DiffusersFolder.open(pipeline());
    Path out = tmp.resolve("saved");
    try (ClipTextModel te = folder.textEncoder(); AutoencoderKL vae = folder.load("vae", AutoencoderKL.FAMILY)) {
      Map<String, io.d2g.models.DiffusersModel> modules = new LinkedHashMap<>();
      modules.put("text_encoder", te);
      modules.put("vae", vae);
      DiffusersFolder.savePipeline(out, "StableDiffusionPipeline", modules, folder.tokenizer(),
          Map.of("scheduler", List.of("diffusers", "EulerDiscreteScheduler")));
      // config.json is written back as it was read
      assertEquals(JSON.readTree(folder.root().resolve("vae/config.json").toFile()),
          JSON.readTree(out.resolve("vae/config.json").toFile()));
      JsonNode index = JSON.readTree(out.resolve("model_index.json").toFile());
      assertEquals("CLIPTextModel", index.get("text_encoder").get(1).asText());
      assertEquals("EulerDiscreteScheduler", index.get("scheduler").get(1).asText());
      assertTrue(Files.isRegularFile(out.resolve("text_encoder/model.safetensors")));
      assertTrue(Files.isRegularFile(out.resolve("vae/diffusion_pytorch_model.safetensors")));
      // the text encoder is saved with the text_model.* keys that transformers 4 and 5 both load
      try (SafetensorsFile f = Safetensors.open(out.resolve("text_encoder/model.safetensors"))) {
        assertTrue(f.names().stream().allMatch(n -> n.startsWith("text_model.")), f.names().toString());
      }
      DiffusersFolder again = DiffusersFolder.open(out);
      try (ClipTextModel te2 = again.textEncoder(); AutoencoderKL vae2 = again.load("vae", AutoencoderKL.FAMILY)) {
        assertSameState(te, te2);
        assertSameState(vae, vae2);
      }
      ClipTokenizer tok = again.tokenizer();
      assertArrayEquals(folder.tokenizer().encodePadded("Hello, world! 🐱"), tok.encodePadded("Hello, world! 🐱"));
    }
  }

  private static void assertSameState(NativeModule a, NativeModule b) {
    try (TensorScope s = new TensorScope()) {
      Map<String, Tensor> sa = a.state(), sb = b.state();
      sa.values().forEach(s::track);
      sb.values().forEach(s::track);
      assertEquals(sa.keySet(), sb.keySet());
      for (String k : sa.keySet()) assertArrayEquals(sa.get(k).toByteArray(), sb.get(k).toByteArray(), k);
    }
  }

  @Test
  void fp16VariantsAreFoundAndConverted() throws IOException {
    Path dir = tmp.resolve("te16");
    try (ClipTextModel te = DiffusersFolder.load(Fixtures.path("sd", "clip_tiny"), ClipTextModel.FAMILY)) {
      te.to(io.d2g.Device.CPU, DType.F16);
      DiffusersFolder.save(dir, te, "fp16");
    }
    assertTrue(Files.isRegularFile(dir.resolve("model.fp16.safetensors")));
    assertFalse(Files.exists(dir.resolve("model.safetensors")));
    // the only weights are the fp16 variant: found without asking, loaded into f32
    try (ClipTextModel a = DiffusersFolder.load(dir, ClipTextModel.FAMILY);
        ClipTextModel b = DiffusersFolder.load(dir, ClipTextModel.FAMILY,
            DiffusersFolder.LoadOptions.DEFAULT.withVariant("fp16").on(io.d2g.Device.CPU, DType.F16));
        TensorScope s = new TensorScope()) {
      assertEquals(DType.F32, s.track(a.state().get("text_model.final_layer_norm.weight")).dtype());
      assertEquals(DType.F16, s.track(b.state().get("text_model.final_layer_norm.weight")).dtype());
    }
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(dir, ClipTextModel.FAMILY,
        DiffusersFolder.LoadOptions.DEFAULT.withVariant("bf16")), "no 'bf16' variant", "model.fp16.safetensors");
  }

  @Test
  void shardedWeightsLoad() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("sharded"));
    Path clip = Fixtures.path("sd", "clip_tiny");
    Files.copy(clip.resolve("config.json"), dir.resolve("config.json"));
    StringBuilder map = new StringBuilder();
    try (SafetensorsFile f = Safetensors.open(clip.resolve("model.safetensors")); TensorScope s = new TensorScope()) {
      Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
      int i = 0;
      for (String n : f.names()) {
        String shard = (i++ % 2 == 0) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
        (shard.contains("00001") ? a : b).put(n, s.track(f.tensor(n)));
        map.append(map.isEmpty() ? "" : ",").append('"').append(n).append("\":\"").append(shard).append('"');
      }
      Safetensors.write(dir.resolve("model-00001-of-00002.safetensors"), a);
      Safetensors.write(dir.resolve("model-00002-of-00002.safetensors"), b);
    }
    Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\":{},\"weight_map\":{" + map + "}}");
    try (ClipTextModel whole = DiffusersFolder.load(clip, ClipTextModel.FAMILY);
        ClipTextModel sharded = DiffusersFolder.load(dir, ClipTextModel.FAMILY)) {
      assertSameState(whole, sharded);
    }
    Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(dir, ClipTextModel.FAMILY), "shard", "missing");
  }

  @Test
  void strictLoadingReportsEveryProblemWithTheFileName() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("bad"));
    Path clip = Fixtures.path("sd", "clip_tiny");
    Files.copy(clip.resolve("config.json"), dir.resolve("config.json"));
    try (SafetensorsFile f = Safetensors.open(clip.resolve("model.safetensors")); TensorScope s = new TensorScope()) {
      Map<String, Tensor> state = new LinkedHashMap<>();
      for (String n : f.names()) state.put(n, s.track(f.tensor(n)));
      state.remove("final_layer_norm.bias");
      state.put("encoder.layers.0.mlp.fc1.bias", s.track(Tensor.of(new float[5])));
      state.put("lm_head.weight", s.track(Tensor.of(new float[5])));
      Safetensors.write(dir.resolve("model.safetensors"), state);
    }
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(dir, ClipTextModel.FAMILY),
        dir.resolve("model.safetensors").toString(), "missing keys (1): text_model.final_layer_norm.bias",
        "unexpected keys (1): text_model.lm_head.weight", "shape mismatches (1): text_model.encoder.layers.0.mlp.fc1.bias");
    // non-strict still refuses the shape mismatch
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(dir, ClipTextModel.FAMILY,
        DiffusersFolder.LoadOptions.DEFAULT.nonStrict()), "shape mismatches (1)");
  }

  @Test
  void pickleOnlyAndMalformedFoldersAreClearErrors() throws IOException {
    Path pk = Files.createDirectories(tmp.resolve("pickle"));
    Files.writeString(pk.resolve("config.json"), "{\"hidden_size\": 8, \"num_attention_heads\": 2}");
    Files.write(pk.resolve("pytorch_model.bin"), new byte[16]);
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(pk, ClipTextModel.FAMILY), "only pickle weights",
        "pytorch_model.bin", "safe_serialization=True");
    Path noCfg = Files.createDirectories(tmp.resolve("nocfg"));
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(noCfg, ClipTextModel.FAMILY), "has no config.json");
    Files.writeString(noCfg.resolve("config.json"), "{\"hidden_size\": 8, \"num_attention_heads\": 2}");
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(noCfg, ClipTextModel.FAMILY), "has no weights");
    Safetensors.write(noCfg.resolve("model.safetensors"), Map.of());
    Files.writeString(noCfg.resolve("config.json"), "{\"hidden_size\": 9, \"num_attention_heads\": 2}");
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(noCfg, ClipTextModel.FAMILY),
        "config.json does not describe a usable model", "not divisible");
    Files.writeString(noCfg.resolve("config.json"), "{\"hidden_size\": 8,");
    assertMessage(CheckpointException.class, () -> DiffusersFolder.load(noCfg, ClipTextModel.FAMILY), "cannot read");
    assertMessage(CheckpointException.class, () -> DiffusersFolder.open(noCfg), "no model_index.json", "single component");
    Path single = Files.write(tmp.resolve("v1-5-pruned.safetensors"), new byte[16]);
    assertMessage(CheckpointException.class, () -> DiffusersFolder.open(single), "single file", "from_single_file");
  }

  @Test
  void modulesBuiltHereGetADiffusersConfig() throws IOException {
    Path dir = tmp.resolve("fresh");
    try (ClipTextModel te = new ClipTextModel(ClipTextConfig.of(Map.of("vocab_size", 50, "hidden_size", 8,
        "intermediate_size", 16, "num_hidden_layers", 1, "num_attention_heads", 2, "max_position_embeddings", 8,
        "hidden_act", "gelu", "layer_norm_eps", 1e-5)))) {
      DiffusersFolder.save(dir, te);
      JsonNode cfg = JSON.readTree(dir.resolve("config.json").toFile());
      assertEquals(8, cfg.get("hidden_size").asInt());
      assertTrue(cfg.get("hidden_size").isIntegralNumber());
      assertEquals("gelu", cfg.get("hidden_act").asText());
      assertEquals(1e-5, cfg.get("layer_norm_eps").asDouble(), 0);
      assertEquals("CLIPTextModel", cfg.get("architectures").get(0).asText());
      assertEquals("clip_text_model", cfg.get("model_type").asText());
      try (ClipTextModel back = DiffusersFolder.load(dir, ClipTextModel.FAMILY)) {
        assertSameState(te, back);
      }
    }
  }
}
