package io.d2g.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
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

  @FuzzTest(maxExecutions = 1_000_000)
  void readConfigs(String text) {
    if (text == null) return;  // Jazzer's null, not a file's content
    JsonNode json;
    try {
      json = JSON.readTree(text);
    } catch (JsonProcessingException notJson) {
      return;  // Jackson's own parser is not what is tested here
    }
    if (json == null || !json.isObject()) return;
    for (Function<JsonNode, Object> read : READERS) {
      try {
        read.apply(json);
      } catch (D2gException expected) {
        // refused with a clear message
      }
    }
    for (MultiStepTextToImage.Sampler kind : MultiStepTextToImage.Sampler.values()) {
      try {
        kind.create(json).setTimesteps(1 + Math.floorMod(text.length(), 60));
      } catch (D2gException expected) {
        // refused with a clear message
      }
    }
  }
}
