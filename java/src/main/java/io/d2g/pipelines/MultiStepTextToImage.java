package io.d2g.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import io.d2g.schedulers.DdimScheduler;
import io.d2g.schedulers.DpmSolverMultistepScheduler;
import io.d2g.schedulers.EulerDiscreteScheduler;
import io.d2g.schedulers.HeunDiscreteScheduler;
import io.d2g.schedulers.Scheduler;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.LoggerFactory;

/**
 * Multi-step text-to-image with classifier-free guidance — diffusers' Stable Diffusion pipeline: the
 * prompts' and the empty prompt's text states (last hidden state), noise per image seeded with seed +
 * i, the {@link DenoisingLoop} with a {@link Scheduler}, the latents divided by the VAE's scaling
 * factor and decoded. Works on any diffusers SD folder (SD1.5 or the project's teacher); the sampler
 * is the folder's scheduler ({@code scheduler/scheduler_config.json}'s {@code _class_name}: DDIM,
 * Euler, Heun or DPM-Solver++) unless another is named.
 */
public final class MultiStepTextToImage implements AutoCloseable {
  /** The samplers, by their diffusers class names. */
  public enum Sampler {
    DDIM("DDIMScheduler", DdimScheduler.class), EULER("EulerDiscreteScheduler", EulerDiscreteScheduler.class),
    HEUN("HeunDiscreteScheduler", HeunDiscreteScheduler.class),
    DPM_SOLVER("DPMSolverMultistepScheduler", DpmSolverMultistepScheduler.class);

    public final String className;
    private final Class<? extends Scheduler> type;

    Sampler(String className, Class<? extends Scheduler> type) {
      this.className = className;
      this.type = type;
    }

    /** The kind of {@code scheduler}; null for a scheduler of none of these kinds. */
    public static Sampler of(Scheduler scheduler) {
      for (Sampler k : values()) if (k.type.isInstance(scheduler)) return k;
      return null;
    }

    /** By class name or by this enum's name in any case ("ddim", "dpm_solver"). */
    public static Sampler parse(String s) {
      for (Sampler k : values()) if (k.className.equals(s) || k.name().equalsIgnoreCase(s)) return k;
      throw new InvalidArgumentException("unknown sampler '" + s + "' (ddim, euler, heun, dpm_solver)");
    }

    /** A scheduler of this kind from a diffusers scheduler config (options it has not are ignored). */
    public Scheduler create(JsonNode config) {
      var c = ((com.fasterxml.jackson.databind.node.ObjectNode) config).deepCopy();
      if (this == DDIM) c.put("clip_sample", false);
      return switch (this) {
        case DDIM -> DdimScheduler.fromConfig(c);
        case EULER -> EulerDiscreteScheduler.fromConfig(c);
        case HEUN -> HeunDiscreteScheduler.fromConfig(c);
        case DPM_SOLVER -> DpmSolverMultistepScheduler.fromConfig(c);
      };
    }
  }

  private final ClipTokenizer tokenizer;
  private final ClipTextModel text;
  private final UNet2DConditionModel unet;
  private final AutoencoderKL vae;
  private final Scheduler scheduler;
  private final Device device;
  private final List<NativeModule> owned = new ArrayList<>();
  private GuidedSampler fused; // made on the first run of a sampler with linear steps

  /**
   * Uses the given components (the caller keeps them), all on {@code device}; the text encoder and the
   * UNet in one dtype, the autoencoder in f32.
   */
  public MultiStepTextToImage(ClipTokenizer tokenizer, ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae,
      Scheduler scheduler, Device device) {
    this.tokenizer = tokenizer;
    this.text = text;
    this.unet = unet;
    this.vae = vae;
    this.scheduler = scheduler;
    this.device = device;
  }

  /** Loads a diffusers pipeline folder onto {@code device} in f32; {@code sampler} null: the folder's scheduler. */
  public static MultiStepTextToImage load(Path folder, Device device, Sampler sampler) {
    return load(folder, device, sampler, DType.F32);
  }

  /**
   * Loads a diffusers pipeline folder onto {@code device} with the text encoder and the UNet in
   * {@code dtype} (F32, F16 or BF16; the autoencoder stays f32, and the samplers' arithmetic is f32);
   * on CUDA the UNet's convolutions are stored channels-last. {@code sampler} null: the folder's scheduler.
   */
  public static MultiStepTextToImage load(Path folder, Device device, Sampler sampler, DType dtype) {
    if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16)
      throw new InvalidArgumentException("a pipeline runs in f32, f16 or bf16, not " + dtype);
    Path sched = folder.resolve("scheduler/scheduler_config.json");
    if (!Files.isRegularFile(sched))
      throw new InvalidArgumentException(folder + " has no scheduler/scheduler_config.json; is it a diffusers pipeline folder?");
    JsonNode config;
    try {
      config = new ObjectMapper().readTree(sched.toFile());
    } catch (IOException e) {
      throw new InvalidArgumentException("cannot read " + sched + ": " + e.getMessage());
    }
    Sampler kind = sampler != null ? sampler : Sampler.parse(config.path("_class_name").asText("DDIMScheduler"));
    Scheduler scheduler = kind.create(config);
    var opts = DiffusersFolder.LoadOptions.DEFAULT.on(device, dtype);
    var vaeOpts = DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32);
    ClipTokenizer tok = ClipTokenizer.load(folder.resolve("tokenizer"));
    List<NativeModule> loaded = new ArrayList<>();
    try {
      ClipTextModel t = DiffusersFolder.load(folder.resolve("text_encoder"), ClipTextModel.FAMILY, opts);
      loaded.add(t);
      UNet2DConditionModel u = DiffusersFolder.load(folder.resolve("unet"), UNet2DConditionModel.FAMILY, opts);
      loaded.add(u);
      if (device.isCuda()) u.channelsLast(true);
      AutoencoderKL v = DiffusersFolder.load(folder.resolve("vae"), AutoencoderKL.FAMILY, vaeOpts);
      loaded.add(v);
      MultiStepTextToImage p = new MultiStepTextToImage(tok, t, u, v, scheduler, device);
      p.owned.addAll(loaded);
      return p;
    } catch (RuntimeException e) {
      loaded.forEach(NativeModule::close);
      throw e;
    }
  }

  /**
   * One image per prompt after {@code steps} sampler steps (1 to 1000) with guidance {@code guidance}
   * (1: no guidance; 0 to 100); image i's noise is drawn from a CPU generator seeded with seed + i and
   * moved to the device, so a seed gives the same picture on every device (as diffusers' pipelines do
   * with a CPU generator; a CUDA generator draws other numbers from the same seed).
   */
  public BufferedImage[] generate(List<String> prompts, int steps, double guidance, long seed) {
    List<Long> seeds = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) seeds.add(seed + i);
    return generate(prompts, seeds, steps, guidance);
  }

  /** As {@link #generate(List, int, double, long)}, image i's noise seeded with {@code seeds.get(i)}. */
  public BufferedImage[] generate(List<String> prompts, List<Long> seeds, int steps, double guidance) {
    if (prompts.isEmpty()) throw new InvalidArgumentException("no prompts given");
    if (seeds.size() != prompts.size())
      throw new InvalidArgumentException(prompts.size() + " prompts but " + seeds.size() + " seeds");
    for (int i = 0; i < prompts.size(); i++) {
      String p = prompts.get(i);
      if (p == null || p.isBlank())
        throw new InvalidArgumentException("prompt " + i + " is empty: describe the image, e.g. \"a red car, twemoji style\"");
      if (p.length() > TextToImage.MAX_PROMPT_CHARS)
        throw new InvalidArgumentException("prompt " + i + " has " + p.length() + " characters; at most "
            + TextToImage.MAX_PROMPT_CHARS);
    }
    if (steps < 1 || steps > 1000) throw new InvalidArgumentException("steps must be 1 to 1000, not " + steps);
    if (!(guidance >= 0 && guidance <= 100)) throw new InvalidArgumentException("guidance must be 0 to 100, not " + guidance);
    checkVocabulary(prompts);
    int b = prompts.size();
    long[] chw = latentShape();
    try (TensorScope s = new TensorScope()) {
      List<Tensor> noise = new ArrayList<>(b);
      for (int i = 0; i < b; i++) {
        try (Generator g = Generator.create(Device.CPU, seeds.get(i))) {
          noise.add(s.track(Tensor.randn(g, DType.F32, 1, chw[0], chw[1], chw[2])));
        }
      }
      Tensor latents = s.track(denoise(prompts, s.track(s.track(Tensor.cat(noise, 0)).to(device)), steps, guidance));
      return toImages(s.track(s.track(decode(latents)).to(Device.CPU)));
    }
  }

  /** The latents' shape [C, H, W] for one picture (the UNet's input channels and sample size). */
  public long[] latentShape() {
    long side = unet.config().sampleSize() != null ? unet.config().sampleSize() : 64;
    return new long[] {unet.config().inChannels(), side, side};
  }

  /** The sampler's diffusers class name (DDIMScheduler, ...). */
  public String samplerName() {
    Sampler kind = Sampler.of(scheduler);
    return kind != null ? kind.className : scheduler.getClass().getSimpleName();
  }

  /** The device the pipeline runs on. */
  public Device device() {
    return device;
  }

  /**
   * The sampler's final latents (scaled as the UNet sees them) from the given initial noise
   * [B, C, H, W] on this pipeline's device, one prompt per row; prompts are not checked here (see
   * {@link #generate(List, List, int, double)}). With {@link #decode} this is the pipeline as diffusers'
   * {@code StableDiffusionPipeline(prompts, latents=noise, output_type="latent")} runs it. Samplers with
   * linear steps (DDIM) run the whole loop in one native call ({@link GuidedSampler}; CUDA graphs on
   * CUDA); the others step by step ({@link DenoisingLoop}). Calls from several threads take turns (the
   * scheduler keeps the state of one loop).
   */
  public synchronized Tensor denoise(List<String> prompts, Tensor noise, int steps, double guidance) {
    if (noise.shape()[0] != prompts.size())
      throw new InvalidArgumentException(prompts.size() + " prompts but noise of shape " + Arrays.toString(noise.shape()));
    try (TensorScope s = new TensorScope()) {
      tokenizer.warnTruncated(prompts);
      Tensor cond = s.track(text.lastHiddenState(s.track(s.track(tokenizer.encodeBatch(prompts)).to(device))));
      Tensor uncond = guidance == 1.0 ? null
          : s.track(text.lastHiddenState(s.track(s.track(tokenizer.encodeBatch(Collections.nCopies(prompts.size(), ""))).to(device))));
      if (GuidedSampler.supports(scheduler)) {
        if (fused == null) fused = new GuidedSampler(unet, device.isCuda());
        return fused.run(scheduler, steps, noise, cond, uncond, guidance);
      }
      return DenoisingLoop.run(unet, scheduler, steps, noise, cond, uncond, guidance);
    }
  }

  /** Pictures [B, 3, H, W] in about [-1, 1] (not clamped) from latents scaled as the UNet sees them. */
  public Tensor decode(Tensor latents) {
    try (Tensor unscaled = latents.div(vae.scalingFactor())) {
      return vae.decode(unscaled);
    }
  }

  private static final Pattern STYLE = Pattern.compile("([\\p{L}\\p{N}]+)\\s+style\\b", Pattern.CASE_INSENSITIVE);

  /**
   * Words the tokenizer has no token for were never in the training captions (for a vocabulary learnt
   * from them): a style named by one ("..., X style") is refused, other such words are logged.
   */
  private void checkVocabulary(List<String> prompts) {
    for (int i = 0; i < prompts.size(); i++) {
      List<String> unseen = tokenizer.unseenWords(prompts.get(i));
      if (unseen.isEmpty()) continue;
      Matcher m = STYLE.matcher(prompts.get(i));
      while (m.find())
        if (unseen.contains(m.group(1).toLowerCase(Locale.ROOT)))
          throw new InvalidArgumentException("prompt " + i + " asks for the style \"" + m.group(1) + "\", a word this model's "
              + "vocabulary does not have: it never saw that style in training");
      LoggerFactory.getLogger(MultiStepTextToImage.class).warn("prompt {} has words this model's vocabulary does not have "
          + "(never in its training captions): {}", i, unseen);
    }
  }

  /** [B, 3, H, W] in [-1, 1] to RGB images. */
  static BufferedImage[] toImages(Tensor images) {
    long[] sh = images.shape();
    float[] v = images.toFloatArray();
    int b = (int) sh[0], h = (int) sh[2], w = (int) sh[3], px = h * w;
    BufferedImage[] out = new BufferedImage[b];
    for (int i = 0; i < b; i++) {
      BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
      for (int p = 0; p < px; p++) {
        int rgb = 0;
        for (int c = 0; c < 3; c++) {
          float f = Math.max(0f, Math.min(1f, v[(i * 3 + c) * px + p] / 2 + 0.5f));
          rgb = (rgb << 8) | Math.round(f * 255);
        }
        img.setRGB(p % w, p / w, rgb);
      }
      out[i] = img;
    }
    return out;
  }

  @Override
  public void close() {
    if (fused != null) fused.close();
    fused = null;
    for (NativeModule m : owned) m.close();
    owned.clear();
  }
}
