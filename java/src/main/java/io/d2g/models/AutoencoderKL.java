package io.d2g.models;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.nn.NativeModule;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Stable Diffusion VAE: diffusers' {@code AutoencoderKL}, created from its config.json keys, with
 * parameters named exactly like its state_dict (load a {@code vae/diffusion_pytorch_model.safetensors}
 * with {@link #loadState}). Images are [batch, in_channels, H, W] in [-1, 1]; latents are [batch,
 * latent_channels, H/f, W/f] with f = 2^(levels-1) (8 for SD). Diffusion models work on latents
 * multiplied by {@link #scalingFactor()}: {@code z = sample * scalingFactor}, and decode {@code z /
 * scalingFactor}. Calls record no autograd graph.
 */
public final class AutoencoderKL extends NativeModule implements DiffusersModel {
  /** The family, for loaders: diffusers' AutoencoderKL. */
  public static final ModelFamily<AutoencoderKL> FAMILY =
      new ModelFamily<>("AutoencoderKL", json -> new AutoencoderKL(AutoencoderKLConfig.fromJson(json)));

  private final AutoencoderKLConfig config;

  /** The posterior N(mean, exp(logvar)) of an encoded batch. Owns both tensors. */
  public record Posterior(Tensor mean, Tensor logvar) implements AutoCloseable {
    /** The distribution's mode, as diffusers' {@code latent_dist.mode()}: the mean (not a copy). */
    public Tensor mode() {
      return mean;
    }

    /** mean + exp(logvar / 2) * noise, the noise from the default generator of the mean's device. */
    public Tensor sample() {
      return sample(null);
    }

    /** mean + exp(logvar / 2) * noise, the noise drawn from {@code gen} (of the mean's device; null: the default). */
    public Tensor sample(Generator gen) {
      return Access.tensor(Native.vaeSample(Access.handle(mean), Access.handle(logvar), Access.handle(gen)));
    }

    @Override
    public void close() {
      try (logvar) {
        mean.close();
      }
    }
  }

  public AutoencoderKL(AutoencoderKLConfig config) {
    super("autoencoder_kl", config.toModuleConfig());
    this.config = config;
  }

  public AutoencoderKLConfig config() {
    return config;
  }

  @Override
  public String library() {
    return "diffusers";
  }

  @Override
  public String className() {
    return "AutoencoderKL";
  }


  @Override
  public ObjectNode configJson() {
    return config.toJson();
  }

  /** Encodes images [batch, in_channels, H, W] (the module's dtype and device). */
  public Posterior encode(Tensor x) {
    MemorySegment[] out = Native.vaeEncode(Access.handle(this), Access.handle(x));
    return new Posterior(Access.tensor(out[0]), Access.tensor(out[1]));
  }

  /** Decodes latents [batch, latent_channels, h, w] (already divided by the scaling factor) into images. */
  public Tensor decode(Tensor z) {
    return Access.tensor(Native.vaeDecode(Access.handle(this), Access.handle(z)));
  }

  /** The config's {@code scaling_factor} (diffusers' default 0.18215, SD1.5/2.x's value). */
  public double scalingFactor() {
    return config.scalingFactor();
  }

  /**
   * Renames the mid-block attention keys of checkpoints saved before diffusers 0.14 ({@code query},
   * {@code key}, {@code value}, {@code proj_attn}) to today's ({@code to_q}, {@code to_k}, {@code to_v},
   * {@code to_out.0}), as diffusers does when it loads them. Other keys pass through unchanged; the
   * tensors are not copied.
   */
  public static Map<String, Tensor> renameLegacyKeys(Map<String, Tensor> state) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    state.forEach((k, v) -> out.put(legacyName(k), v));
    return out;
  }

  private static String legacyName(String key) {
    for (String part : new String[] {"encoder.mid_block.attentions.", "decoder.mid_block.attentions."}) {
      if (!key.startsWith(part)) continue;
      String[][] renames = {{".query.", ".to_q."}, {".key.", ".to_k."}, {".value.", ".to_v."}, {".proj_attn.", ".to_out.0."}};
      for (String[] r : renames) {
        int i = key.indexOf(r[0], part.length());
        if (i >= 0) return key.substring(0, i) + r[1] + key.substring(i + r[0].length());
      }
    }
    return key;
  }
}
