package io.d2g.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2gException;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ImageTextJudgeConfig;
import io.d2g.models.LatentLpipsConfig;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.pipelines.MultiStepTextToImage;
import java.util.List;
import java.util.function.Function;

/**
 * The diffusers config.json readers (the typed model configs, the noise schedule and every scheduler)
 * on any JSON: each config is read and turned into the native module's settings, or refused with a
 * {@link D2gException} naming the problem; never another exception (a value out of range that wraps,
 * a negative array size, a missing key read as null...). Regression inputs: ConfigFuzzTestInputs.
 */
class ConfigFuzzTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<Function<JsonNode, Object>> READERS = List.of(
      j -> UNet2DConditionConfig.fromJson(j).toModuleConfig().toNative(),
      j -> AutoencoderKLConfig.fromJson(j).toModuleConfig().toNative(),
      j -> ClipTextConfig.fromJson(j).toModuleConfig().toNative(),
      j -> ImageTextJudgeConfig.fromJson(j).toModuleConfig().toNative(),
      j -> LatentLpipsConfig.fromJson(j).toModuleConfig().toNative(),
      NoiseSchedule::fromConfig);

  /**
   * Real configs (the shipped teacher's) with fuzzed values: each of a config's keys may get a value of
   * another type or size (huge, negative, fractional, NaN-like strings, arrays, null), so the readers'
   * range checks are what is explored rather than JSON syntax.
   */
  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void readConfigsWithFuzzedValues(FuzzedDataProvider data) {
    ObjectNode json = TEMPLATES.get(data.consumeInt(0, TEMPLATES.size() - 1)).deepCopy();
    List<String> keys = new ArrayList<>();
    json.fieldNames().forEachRemaining(keys::add);
    int edits = data.consumeInt(1, 4);
    for (int e = 0; e < edits && !keys.isEmpty(); e++) {
      String key = data.consumeBoolean() ? keys.get(data.consumeInt(0, keys.size() - 1)) : data.consumeString(12);
      switch (data.consumeInt(0, 7)) {
        case 0 -> json.put(key, data.consumeInt());
        case 1 -> json.put(key, data.consumeLong());
        case 2 -> json.put(key, data.consumeDouble());
        case 3 -> json.put(key, data.consumeString(20));
        case 4 -> json.put(key, data.consumeBoolean());
        case 5 -> json.putNull(key);
        case 6 -> {
          ArrayNode a = json.putArray(key);
          for (int i = data.consumeInt(0, 5); i > 0; i--) a.add(data.consumeInt(-3, 5000));
        }
        default -> json.remove(key);
      }
    }
    readAll(json, data.consumeInt(1, 1000));
  }

  private static final List<ObjectNode> TEMPLATES = templates();

  private static List<ObjectNode> templates() {
    Path root = Path.of("").toAbsolutePath();
    while (root != null && !Files.isDirectory(root.resolve("models/emoji-teacher"))) root = root.getParent();
    if (root == null) throw new IllegalStateException("models/emoji-teacher not found");
    List<ObjectNode> out = new ArrayList<>();
    try {
      for (String f : List.of("unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"))
        out.add((ObjectNode) JSON.readTree(root.resolve("models/emoji-teacher").resolve(f).toFile()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void readConfigs(String text) {
    if (text == null) return;  // Jazzer's null, not a file's content
    JsonNode json;
    try {
      json = JSON.readTree(text);
    } catch (JsonProcessingException notJson) {
      return;  // Jackson's own parser is not what is tested here
    }
    if (json == null || !json.isObject()) return;
    readAll(json, 1 + Math.floorMod(text.length(), 60));
  }

  private static void readAll(JsonNode json, int steps) {
    for (Function<JsonNode, Object> read : READERS) {
      try {
        read.apply(json);
      } catch (D2gException expected) {
        // refused with a clear message
      }
    }
    for (MultiStepTextToImage.Sampler kind : MultiStepTextToImage.Sampler.values()) {
      try {
        kind.create(json).setTimesteps(steps);
      } catch (D2gException expected) {
        // refused with a clear message
      }
    }
  }
}
