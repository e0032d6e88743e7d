package io.d2g.sd;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.nn.NativeModule;
import io.d2g.text.ClipTokenizer;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prompts to images in one network pass: tokenizer → {@link OneStepPipeline} (text encoder, UNet
 * once at the last timestep, VAE decoder). Image {@code i} of a batch uses the seed {@code seed + i},
 * so a prompt gives the same picture alone or in a batch, on the CPU or a GPU (the noise is drawn on
 * the CPU). Drawing noise reseeds the global generator ({@link D2g#manualSeed}).
 */
public final class TextToImage implements AutoCloseable {
  /** Longest prompt accepted; the text encoder reads at most 77 tokens anyway. */
  public static final int MAX_PROMPT_CHARS = 2000;

  private final ClipTokenizer tokenizer;
  private final OneStepPipeline pipeline;
  private final NoiseSchedule schedule;
  private final Device device;
  private final DType dtype;
  private final long channels, size;
  private final List<NativeModule> owned = new ArrayList<>();

  /**
   * Uses the given components (the caller keeps ownership). {@code latentChannels}/{@code latentSize}:
   * the UNet's in_channels and sample_size.
   */
  public TextToImage(ClipTokenizer tokenizer, ClipTextModel text, NativeModule unet, AutoencoderKL vae,
      NoiseSchedule schedule, long latentChannels, long latentSize, Device device, DType dtype, boolean cudaGraphs) {
    this.tokenizer = tokenizer;
    this.schedule = schedule;
    this.device = device;
    this.dtype = dtype;
    this.channels = latentChannels;
    this.size = latentSize;
    this.pipeline = new OneStepPipeline(text, unet, vae, schedule.prediction(), vae.scalingFactor(), cudaGraphs);
  }

  /**
   * Loads a diffusers folder (tokenizer, text_encoder, unet, vae, scheduler) onto a device in a dtype.
   * The components belong to the returned object and are closed with it.
   */
  public static TextToImage load(Path folder, Device device, DType dtype) {
    var opts = DiffusersFolder.LoadOptions.DEFAULT.on(device, dtype);
    Path sched = folder.resolve("scheduler/scheduler_config.json");
    if (!Files.isRegularFile(sched))
      throw new InvalidArgumentException(folder + " has no scheduler/scheduler_config.json; is it a diffusers pipeline folder?");
    ClipTokenizer tok = ClipTokenizer.load(folder.resolve("tokenizer"));
    ClipTextModel text = DiffusersFolder.load(folder.resolve("text_encoder"), ClipTextModel::new, opts);
    UNet2DConditionModel unet = DiffusersFolder.load(folder.resolve("unet"), UNet2DConditionModel::new, opts);
    AutoencoderKL vae = DiffusersFolder.load(folder.resolve("vae"), AutoencoderKL::new, opts);
    for (NativeModule m : List.of(text, unet, vae)) m.eval();
    var cfg = unet.config();
    long c = Long.parseLong(cfg.get("in_channels") == null ? "4" : cfg.get("in_channels"));
    long s = Long.parseLong(cfg.get("sample_size") == null ? "64" : cfg.get("sample_size"));
    TextToImage t2i = new TextToImage(tok, text, unet, vae, NoiseSchedule.read(sched), c, s, device, dtype, true);
    t2i.owned.addAll(List.of(text, unet, vae));
    return t2i;
  }

  /** One image per prompt; image i is drawn from seed + i. */
  public BufferedImage[] generate(List<String> prompts, long seed) {
    if (prompts.isEmpty()) throw new InvalidArgumentException("no prompts given");
    for (int i = 0; i < prompts.size(); i++) checkPrompt(prompts.get(i), i);
    int b = prompts.size();
    int per = Math.toIntExact(channels * size * size);
    float[] noise = new float[b * per];
    for (int i = 0; i < b; i++) {
      D2g.manualSeed(seed + i);
      try (Tensor n = Tensor.randn(DType.F32, Device.CPU, 1, channels, size, size)) {
        System.arraycopy(n.toFloatArray(), 0, noise, i * per, per);
      }
    }
    int t = schedule.numTrainTimesteps() - 1;
    try (TensorScope s = new TensorScope()) {
      Tensor ids = s.track(tokenizer.encodeBatch(prompts));
      Tensor x = s.track(s.track(Tensor.of(noise, b, channels, size, size)).to(device, dtype));
      return OneStepPipeline.toImages(s.track(pipeline.run(ids, x, t, schedule.alphaBar(t))));
    }
  }

  public BufferedImage generate(String prompt, long seed) {
    return generate(List.of(prompt), seed)[0];
  }

  private static void checkPrompt(String p, int i) {
    if (p == null || p.isBlank())
      throw new InvalidArgumentException("prompt " + i + " is empty: describe the image, e.g. \"a red car, twemoji style\"");
    if (p.length() > MAX_PROMPT_CHARS)
      throw new InvalidArgumentException("prompt " + i + " has " + p.length() + " characters; the text encoder reads at most "
          + "77 tokens (a few hundred characters), so shorten it to under " + MAX_PROMPT_CHARS);
  }

  @Override
  public void close() {
    pipeline.close();
    for (NativeModule m : owned) m.close();
    owned.clear();
  }
}
