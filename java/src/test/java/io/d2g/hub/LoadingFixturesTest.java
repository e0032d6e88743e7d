package io.d2g.hub;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.io.Fixtures;
import io.d2g.models.ClipTextModel;
import io.d2g.models.ClipTextModelTest;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Folders and files as the reference libraries write them in cases our earlier fixtures never used
 * (test/fixtures/loading, made by scripts/fixtures/make_loading_fixtures.py; its README says what
 * each one holds and how the reference treats it).
 */
class LoadingFixturesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  private static Path fixture(String... parts) {
    return Fixtures.path("loading", parts);
  }

  // ---- tokenizer saved by transformers 5: tokenizer.json + tokenizer_config.json only ----

  @Test
  void aTransformers5TokenizerFolderLoadsAndEncodesAsTransformers5() throws IOException {
    Path src = fixture("tokenizer-t5save");
    Fixtures.gunzip(src.resolve("tokenizer.json.gz"), tmp.resolve("tokenizer.json"));
    Files.copy(src.resolve("tokenizer_config.json"), tmp.resolve("tokenizer_config.json"));
    ClipTokenizer tok = ClipTokenizer.load(tmp);
    assertEquals(77, tok.maxLength());
    JsonNode ref = JSON.readTree(src.resolve("reference_ids.json").toFile());
    int cases = 0;
    for (JsonNode c : ref.path("cases")) {
      String text = c.path("text").asText();
      assertArrayEquals(ints(c.path("ids")), tok.encode(text), "encode " + text);
      assertArrayEquals(ints(c.path("padded")), tok.encodePadded(text), "padded " + text);
      List<Integer> untruncated = new ArrayList<>();
      untruncated.add(tok.bosId());
      untruncated.addAll(tok.tokenIds(text));
      untruncated.add(tok.eosId());
      assertArrayEquals(ints(c.path("ids_untruncated")), untruncated.stream().mapToInt(Integer::intValue).toArray(),
          "untruncated " + text);
      cases++;
    }
    assertTrue(cases >= 30, "cases: " + cases);
  }

  @Test
  void specialTokenTextInAnotherCaseIsOrdinaryText() throws IOException {
    Path src = fixture("tokenizer-t5save");
    Fixtures.gunzip(src.resolve("tokenizer.json.gz"), tmp.resolve("tokenizer.json"));
    Files.copy(src.resolve("tokenizer_config.json"), tmp.resolve("tokenizer_config.json"));
    ClipTokenizer tok = ClipTokenizer.load(tmp);
    assertArrayEquals(new int[] {49406, 27, 347, 993, 6659, 4160, 91, 285, 49407}, tok.encode("<|StartOfText|>"));
    assertArrayEquals(new int[] {49406, 49406, 49407}, tok.encode("<|startoftext|>"));
  }

  @Test
  void aTokenizerJsonOfAnotherKindIsRefused() throws IOException {
    Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
    var e = assertThrows(CheckpointException.class, () -> ClipTokenizer.load(tmp));
    assertTrue(e.getMessage().contains("not a CLIP tokenizer"), e.getMessage());
  }

  private static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
    return out;
  }

  // ---- UNet configs with JSON nulls and nested per-layer depths ----

  @ParameterizedTest
  @ValueSource(strings = {"unet-nulls/mid_block_type", "unet-nulls/flip_sin_to_cos", "unet-nulls/attention_head_dim_entry",
      "unet-nested-tlpb"})
  void uNetsWithDiffusersNullsAndNestedDepthsMatchDiffusers(String name) {
    Path dir = fixture(name.split("/"));
    try (UNet2DConditionModel unet = DiffusersFolder.load(dir, UNet2DConditionModel.FAMILY);
        TensorScope s = new TensorScope();
        var io = Safetensors.open(dir.resolve("io.safetensors"))) {
      Tensor sample = s.track(io.tensor("sample")), t = s.track(io.tensor("timestep"));
      Tensor ctx = s.track(io.tensor("encoder_hidden_states"));
      try (UNet2DConditionModel.Output out = unet.forwardWithFeatures(sample, t, ctx)) {
        double err = ClipTextModelTest.relError(out.sample(), s.track(io.tensor("out")));
        assertTrue(err <= 1e-4, name + ": relative error " + err);
        for (int i = 0; i < out.down().size(); i++)
          assertTrue(ClipTextModelTest.relError(out.down().get(i), s.track(io.tensor("feature.down." + i))) <= 1e-4);
        for (int i = 0; i < out.up().size(); i++)
          assertTrue(ClipTextModelTest.relError(out.up().get(i), s.track(io.tensor("feature.up." + i))) <= 1e-4);
        assertEquals(io.names().contains("feature.mid"), out.mid() != null, "a mid block exactly when diffusers has one");
        if (out.mid() != null) assertTrue(ClipTextModelTest.relError(out.mid(), s.track(io.tensor("feature.mid"))) <= 1e-4);
        if (io.names().contains("out_if_default")) // flip_sin_to_cos: null is false, not the default true
          assertTrue(ClipTextModelTest.relError(out.sample(), s.track(io.tensor("out_if_default"))) > 1e-3);
      }
    }
  }

  @Test
  void nestedDepthsWithoutTheReverseListAreRefusedAsDiffusersRefusesThem() throws IOException {
    ObjectNode c = (ObjectNode) JSON.readTree(fixture("unet-nested-tlpb", "config.json").toFile());
    c.putNull("reverse_transformer_layers_per_block");
    var e = assertThrows(InvalidArgumentException.class, () -> UNet2DConditionConfig.fromJson(c));
    assertTrue(e.getMessage().contains("reverse_transformer_layers_per_block"), e.getMessage());
    // and a config diffusers cannot build either: a null head count where a block has attention
    ObjectNode h = (ObjectNode) JSON.readTree(fixture("unet-nulls", "attention_head_dim_entry", "config.json").toFile());
    h.put("mid_block_type", "UNetMidBlock2DCrossAttn");
    assertThrows(InvalidArgumentException.class, () -> UNet2DConditionConfig.fromJson(h));
    ObjectNode n = (ObjectNode) JSON.readTree(fixture("unet-nulls", "mid_block_type", "config.json").toFile());
    n.putNull("in_channels");
    var e2 = assertThrows(InvalidArgumentException.class, () -> UNet2DConditionConfig.fromJson(n));
    assertTrue(e2.getMessage().contains("'in_channels' is null"), e2.getMessage());
  }

  @Test
  void savedConfigsReadBackToTheSameConfig() throws IOException {
    for (String name : List.of("unet-nested-tlpb", "unet-nulls/mid_block_type", "unet-nulls/attention_head_dim_entry")) {
      UNet2DConditionConfig c = UNet2DConditionConfig.read(fixture(name.split("/")).resolve("config.json"));
      assertEquals(c, UNet2DConditionConfig.fromJson(c.toJson()), name);
    }
  }

  // ---- CLIPTextModelWithProjection ----

  @Test
  void aTextEncoderWithProjectionMatchesTransformers() {
    Path dir = fixture("clip-with-projection");
    try (ClipTextModel m = DiffusersFolder.load(dir, ClipTextModel.FAMILY);
        TensorScope s = new TensorScope();
        var io = Safetensors.open(dir.resolve("io.safetensors"))) {
      assertTrue(m.config().withProjection());
      assertEquals("CLIPTextModelWithProjection", m.className());
      Tensor ids = s.track(io.tensor("input_ids"));
      ClipTextModel.Output last = m.forward(ids, -1, true, true);
      s.track(last.hidden());
      s.track(last.pooled());
      Map<String, Tensor> got = Map.of("last_hidden_state", last.hidden(), "pooled", last.pooled(),
          "hidden_states_m2", s.track(m.forward(ids, -2, false, false).hidden()),
          "hidden_states_0", s.track(m.forward(ids, 0, false, false).hidden()),
          "text_embeds", s.track(m.textEmbeds(last.pooled())));
      got.forEach((k, v) -> {
        double err = ClipTextModelTest.relError(v, s.track(io.tensor(k)));
        assertTrue(err <= 1e-5, k + ": relative error " + err);
      });
    }
  }

  // ---- safetensors: at least as strict as the reference reader ----

  @Test
  void theSafetensorsReaderAcceptsWhatTheReferenceAcceptsAndRefusesWhatItRefuses() throws IOException {
    Path dir = fixture("safetensors-strict");
    JsonNode files = JSON.readTree(dir.resolve("expected.json").toFile()).path("files");
    // decided stricter than the reference: duplicate names (it keeps the last silently) and more
    // dimensions than our tensors hold
    List<String> stricter = List.of("duplicate_key_same_range.safetensors", "dims17.safetensors", "dims65.safetensors");
    int checked = 0;
    for (var it = files.fields(); it.hasNext(); ) {
      var e = it.next();
      String file = e.getKey();
      boolean accepted = e.getValue().path("accepted").asBoolean() && !stricter.contains(file);
      Path p = dir.resolve(file);
      if (accepted) {
        try (SafetensorsFile f = Safetensors.open(p)) {
          JsonNode tensors = e.getValue().path("tensors");
          assertEquals(tensors.size(), f.names().size(), file);
          for (var t : (Iterable<Map.Entry<String, JsonNode>>) tensors::fields) {
            try (Tensor x = f.tensor(t.getKey()); Tensor d = x.to(DType.F64)) {
              double[] values = d.toDoubleArray();
              JsonNode want = t.getValue().path("values");
              assertEquals(want.size(), values.length, file + " " + t.getKey());
              for (int i = 0; i < values.length; i++) assertEquals(want.get(i).asDouble(), values[i], 0, file);
            }
          }
        }
      } else {
        var err = assertThrows(CheckpointException.class, () -> Safetensors.open(p).close(), file);
        assertTrue(err.getMessage().contains(p.toString()), err.getMessage());
      }
      checked++;
    }
    assertTrue(checked >= 40, "files: " + checked);
  }
}
