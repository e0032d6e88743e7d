package io.d2g.pipelines;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prompts to images in one network pass: tokenizer → {@link OneStepPipeline} (text encoder, UNet
 * once at the last timestep, VAE decoder). Image {@code i} of a call draws its noise from its own
 * {@link Generator} on the pipeline's device, seeded with {@code seed + i}: a prompt gives the same
 * picture alone or in a batch, and concurrent calls do not disturb each other's randomness (the
 * device's generator is used, so the CPU and a GPU give different pictures for one seed).
 */
public final class TextToImage implements AutoCloseable {
  /** Longest prompt accepted; the text encoder reads at most 77 tokens anyway. */
  public static final int MAX_PROMPT_CHARS = 2000;

  /**
   * How to run. {@code latentSize}: the side of the latents the UNet denoises (null: the UNet's
   * sample_size, 64 when it has none); {@code cudaGraphs}: capture each stage as a CUDA graph (on CUDA).
   */
  public record Options(Device device, DType dtype, boolean cudaGraphs, Integer latentSize) {
    public Options {
      if (device == null || dtype == null) throw new InvalidArgumentException("device and dtype are required");
      if (!dtype.isFloatingPoint()) throw new InvalidArgumentException("the networks' dtype must be floating, not " + dtype);
      if (latentSize != null && (latentSize < 1 || latentSize > 4096))
        throw new InvalidArgumentException("latentSize must be 1 to 4096, not " + latentSize);
    }

    /** On a device in a dtype, with CUDA graphs and the UNet's own sample size. */
    public static Options on(Device device, DType dtype) {
      return new Options(device, dtype, true, null);
    }

    public Options withCudaGraphs(boolean graphs) {
      return new Options(device, dtype, graphs, latentSize);
    }

    public Options withLatentSize(Integer size) {
      return new Options(device, dtype, cudaGraphs, size);
    }
  }

  private final ClipTokenizer tokenizer;
  private final OneStepPipeline pipeline;
  private final NoiseSchedule schedule;
  private final Options options;
  private final long channels, size;
  private final List<NativeModule> owned = new ArrayList<>();

  /** Uses the given components (the caller keeps ownership; they must be on the options' device). */
  public TextToImage(ClipTokenizer tokenizer, ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae,
      NoiseSchedule schedule, Options options) {
    this.tokenizer = tokenizer;
    this.schedule = schedule;
    this.options = options;
    this.channels = unet.config().inChannels();
    Integer s = options.latentSize() != null ? options.latentSize() : unet.config().sampleSize();
    this.size = s != null ? s : 64;
    this.pipeline = new OneStepPipeline(text, unet, vae, schedule.prediction(), vae.scalingFactor(), options.cudaGraphs());
  }

  /**
   * Loads a diffusers folder (tokenizer, text_encoder, unet, vae, scheduler) onto the options' device
   * in their dtype. The components belong to the returned object and are closed with it.
   */
  public static TextToImage load(Path folder, Options options) {
    var opts = DiffusersFolder.LoadOptions.DEFAULT.on(options.device(), options.dtype());
    Path sched = folder.resolve("scheduler/scheduler_config.json");
    if (!Files.isRegularFile(sched))
      throw new InvalidArgumentException(folder + " has no scheduler/scheduler_config.json; is it a diffusers pipeline folder?");
    ClipTokenizer tok = ClipTokenizer.load(folder.resolve("tokenizer"));
    List<NativeModule> loaded = new ArrayList<>();
    try {
      ClipTextModel text = DiffusersFolder.load(folder.resolve("text_encoder"), ClipTextModel.FAMILY, opts);
      loaded.add(text);
      UNet2DConditionModel unet = DiffusersFolder.load(folder.resolve("unet"), UNet2DConditionModel.FAMILY, opts);
      loaded.add(unet);
      AutoencoderKL vae = DiffusersFolder.load(folder.resolve("vae"), AutoencoderKL.FAMILY, opts);
      loaded.add(vae);
      TextToImage t2i = new TextToImage(tok, text, unet, vae, NoiseSchedule.read(sched), options);
      t2i.owned.addAll(loaded);
      return t2i;
    } catch (RuntimeException e) {
      loaded.forEach(NativeModule::close);
      throw e;
    }
  }

  /**
   * One image per prompt; image i's noise is drawn from a CPU generator seeded with seed + i and moved to
   * the device, so a seed gives the same picture on every device (and the same noise as
   * {@link MultiStepTextToImage}'s, for fidelity between a one-step model and its teacher).
   */
  public BufferedImage[] generate(List<String> prompts, long seed) {
    if (prompts.isEmpty()) throw new InvalidArgumentException("no prompts given");
    for (int i = 0; i < prompts.size(); i++) checkPrompt(prompts.get(i), i);
    int b = prompts.size();
    int t = schedule.numTrainTimesteps() - 1;
    try (TensorScope s = new TensorScope()) {
      List<Tensor> noise = new ArrayList<>(b);
      for (int i = 0; i < b; i++) {
        try (Generator g = Generator.create(Device.CPU, seed + i)) {
          noise.add(s.track(Tensor.randn(g, DType.F32, 1, channels, size, size)));
        }
      }
      Tensor x = s.track(s.track(Tensor.cat(noise, 0)).to(options.device(), options.dtype()));
      tokenizer.warnTruncated(prompts);
      Tensor ids = s.track(tokenizer.encodeBatch(prompts));
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
