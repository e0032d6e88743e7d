package io.d2g.pipelines;

import io.d2g.hub.ClipBpeTrainer;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** For tests: a tiny random Stable Diffusion pipeline folder in the diffusers layout. */
public final class TinyPipeline {
  private TinyPipeline() {}

  /** A tiny SD-family pipeline folder: 16 px images through 8x8x4 latents. */
  public static Path write(Path dir) throws IOException {
    ClipTokenizer tok = ClipBpeTrainer.train(List.of("a red car, noto style", "a cat, twemoji style"), 600, 1);
    tok.save(dir.resolve("tokenizer"));
    try (ClipTextModel text = new ClipTextModel(new ClipTextConfig(tok.vocabSize(), 8, 16, 1, 2, 77, "quick_gelu", 1e-5, 0,
            tok.bosId(), tok.eosId(), tok.padId(), 8, false));
        UNet2DConditionModel unet = new UNet2DConditionModel(UNet2DConditionConfig.builder()
            .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"), List.of(8, 16))
            .layersPerBlock(1).crossAttentionDim(8).attentionHeads(2).normNumGroups(4).sampleSize(8).build());
        AutoencoderKL vae = new AutoencoderKL(new AutoencoderKLConfig(3, 3, List.of(8, 8), 1, "silu", 4, 4, 16, 0.5, null,
            false, true, true, false))) {
      DiffusersFolder.save(dir.resolve("text_encoder"), text);
      DiffusersFolder.save(dir.resolve("unet"), unet);
      DiffusersFolder.save(dir.resolve("vae"), vae);
    }
    Files.createDirectories(dir.resolve("scheduler"));
    Files.writeString(dir.resolve("scheduler/scheduler_config.json"), "{\"_class_name\": \"DDIMScheduler\", "
        + "\"num_train_timesteps\": 1000, \"beta_start\": 0.00085, \"beta_end\": 0.012, \"beta_schedule\": \"scaled_linear\", "
        + "\"clip_sample\": false, \"set_alpha_to_one\": false, \"steps_offset\": 1, \"prediction_type\": \"epsilon\"}");
    return dir;
  }

}
