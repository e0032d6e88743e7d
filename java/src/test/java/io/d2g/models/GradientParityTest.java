package io.d2g.models;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.Autograd;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.DiffusersFolder;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.nn.NativeModule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every parameter's gradient of the tiny UNets, VAE and text encoder against PyTorch's
 * (test/fixtures/train/grads/, made by scripts/fixtures/make_grad_fixtures.py: the same weights,
 * inputs and loss, a fixed random weighting of the outputs, backpropagated in float64 and stored as
 * float32), backpropagated through the bridge:
 *
 * <ul>
 *   <li>in f64: the same function and the same gradients, to the reference's f32 storage (1e-6
 *       relative, ‖ours − ref‖ / ‖ref‖ per tensor);
 *   <li>in f32: each gradient within 1e-5 relative, or within 3× PyTorch's own f32 error where that
 *       is larger (the fixture records it per parameter: a gradient that is a small sum of large
 *       terms, such as a late convolution's bias, loses digits in any f32 run).
 * </ul>
 *
 * A gradient that is zero in exact arithmetic (a key projection's bias: softmax ignores it) must
 * come out below 1e-6 of the whole gradient's norm. Input gradients are checked the same way.
 */
class GradientParityTest {
  private static final Logger LOG = LoggerFactory.getLogger(GradientParityTest.class);
  private static final double F32_TOLERANCE = 1e-5, F64_TOLERANCE = 1e-6, PYTORCH_FACTOR = 3;

  /** One model's reference: tensors, PyTorch's own f32 errors, the total gradient norm. */
  private record Reference(Map<String, Tensor> tensors, Map<String, Double> pytorchF32, double gradNorm) {
    Tensor get(String key) {
      Tensor t = tensors.get(key);
      assertNotNull(t, "fixture has no " + key);
      return t;
    }
  }

  private static Reference reference(String name, TensorScope s) throws Exception {
    Path file = null;
    for (Path p = Path.of("").toAbsolutePath(); p != null && file == null; p = p.getParent()) {
      Path f = p.resolve("test/fixtures/train/grads").resolve(name + ".safetensors");
      if (Files.isRegularFile(f)) file = f;
    }
    assertNotNull(file, "test/fixtures/train/grads/" + name + ".safetensors not found");
    try (SafetensorsFile f = Safetensors.open(file)) {
      Map<String, Tensor> tensors = f.tensors();
      tensors.values().forEach(s::track);
      Map<String, Double> errors = new TreeMap<>();
      JsonNode json = new ObjectMapper().readTree(f.metadata().get("pytorch_f32_relative_error"));
      json.properties().forEach(e -> errors.put(e.getKey(), e.getValue().asDouble()));
      double norm = 0;
      for (var e : tensors.entrySet())
        if (e.getKey().startsWith("grad.")) norm += Math.pow(norm(e.getValue()), 2);
      return new Reference(tensors, errors, Math.sqrt(norm));
    }
  }

  enum Precision {
    F32(DType.F32), F64(DType.F64);

    final DType dtype;

    Precision(DType dtype) {
      this.dtype = dtype;
    }
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void unetWithConvolutionProjections(Precision p) throws Exception {
    unet("unet_tiny_conv", p);
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void unetWithLinearProjectionsAndAFloatTimestep(Precision p) throws Exception {
    unet("unet_tiny_linear", p);
  }

  private void unet(String name, Precision p) throws Exception {
    try (TensorScope s = new TensorScope();
        UNet2DConditionModel unet = DiffusersFolder.load(SdFixture.dir(name), UNet2DConditionModel.FAMILY,
            DiffusersFolder.LoadOptions.DEFAULT.on(Device.CPU, p.dtype))) {
      Reference ref = reference(name, s);
      unet.train(true);
      Tensor sample = s.track(ref.get("input.sample").to(p.dtype)).requiresGrad(true);
      Tensor context = s.track(ref.get("input.encoder_hidden_states").to(p.dtype)).requiresGrad(true);
      try (var rec = Autograd.record()) {
        Tensor out = s.track(unet.forward(sample, ref.get("input.timestep"), context));
        Tensor loss = s.track(s.track(out.mul(s.track(ref.get("loss_weight.out").to(p.dtype)))).sum());
        assertEquals(ref.get("loss").item(), loss.item(), 1e-4 * Math.abs(ref.get("loss").item()), "loss");
        loss.backward();
      }
      compareParameters(unet, ref, "", name + " " + p, p, s);
      compare(s.track(sample.grad().orElseThrow()), ref, "grad_input.sample", null, name + " " + p, p);
      compare(s.track(context.grad().orElseThrow()), ref, "grad_input.encoder_hidden_states", null, name + " " + p, p);
    }
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void vaeEncoderAndDecoder(Precision p) throws Exception {
    String name = "vae_tiny";
    try (TensorScope s = new TensorScope();
        AutoencoderKL vae = DiffusersFolder.load(SdFixture.dir(name), AutoencoderKL.FAMILY,
            DiffusersFolder.LoadOptions.DEFAULT.on(Device.CPU, p.dtype))) {
      Reference ref = reference(name, s);
      vae.train(true);
      Tensor x = s.track(ref.get("input.x").to(p.dtype)).requiresGrad(true);
      try (var rec = Autograd.record(); AutoencoderKL.Posterior post = vae.encode(x)) {
        Tensor decoded = s.track(vae.decode(post.mean()));
        Tensor loss = s.track(s.track(weighted(s, post.mean(), ref.get("loss_weight.mean"))
            .add(weighted(s, post.logvar(), ref.get("loss_weight.logvar"))))
            .add(weighted(s, decoded, ref.get("loss_weight.decoded"))));
        assertEquals(ref.get("loss").item(), loss.item(), 1e-4 * Math.abs(ref.get("loss").item()), "loss");
        loss.backward();
      }
      compareParameters(vae, ref, "", name + " " + p, p, s);
      compare(s.track(x.grad().orElseThrow()), ref, "grad_input.x", null, name + " " + p, p);
    }
  }

  @ParameterizedTest
  @EnumSource(Precision.class)
  void clipTextEncoderHiddenStatesAndPooledOutput(Precision p) throws Exception {
    String name = "clip_tiny";
    try (TensorScope s = new TensorScope();
        ClipTextModel clip = DiffusersFolder.load(SdFixture.dir(name), ClipTextModel.FAMILY,
            DiffusersFolder.LoadOptions.DEFAULT.on(Device.CPU, p.dtype))) {
      Reference ref = reference(name, s);
      clip.train(true);
      try (var rec = Autograd.record();
          ClipTextModel.Output out = clip.forward(ref.get("input.input_ids"), -1, true, true)) {
        Tensor loss = s.track(weighted(s, out.hidden(), ref.get("loss_weight.hidden"))
            .add(weighted(s, out.pooled(), ref.get("loss_weight.pooled"))));
        assertEquals(ref.get("loss").item(), loss.item(), 1e-4 * Math.abs(ref.get("loss").item()), "loss");
        loss.backward();
      }
      // transformers 5 names CLIPTextModel's parameters without the "text_model." that our keys carry
      compareParameters(clip, ref, "text_model.", name + " " + p, p, s);
    }
  }

  /** sum(t * weight), the weight converted to t's dtype. */
  private static Tensor weighted(TensorScope s, Tensor t, Tensor weight) {
    return s.track(s.track(t.mul(s.track(weight.to(t.dtype())))).sum());
  }

  /** Every parameter has a gradient, every reference gradient a parameter, and each one matches. */
  private static void compareParameters(NativeModule module, Reference ref, String ourPrefix, String what, Precision p,
      TensorScope s) {
    Map<String, Tensor> params = module.parameters();
    params.values().forEach(s::track);
    Map<String, Double> errors = new TreeMap<>();
    for (Map.Entry<String, Tensor> e : params.entrySet()) {
      String key = e.getKey().startsWith(ourPrefix) ? e.getKey().substring(ourPrefix.length()) : e.getKey();
      Tensor grad = s.track(e.getValue().grad().orElseThrow(() -> new AssertionError(what + ": " + e.getKey()
          + " got no gradient")));
      errors.put(e.getKey(), compare(grad, ref, "grad." + key, key, what, p));
    }
    long refCount = ref.tensors().keySet().stream().filter(k -> k.startsWith("grad.")).count();
    assertEquals(refCount, errors.size(), what + ": every reference gradient has a parameter");
    LOG.info("{}: {} parameter gradients, worst relative error {} ({})", what, errors.size(),
        String.format("%.3g", errors.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow()),
        errors.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey());
  }

  /**
   * Checks one gradient against the reference key; returns its relative error (0 for a gradient
   * that is zero in exact arithmetic and came out small enough). param: the PyTorch parameter name,
   * or null for an input gradient.
   */
  private static double compare(Tensor actual, Reference ref, String key, String param, String what, Precision p) {
    Tensor expected = ref.get(key);
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape of " + key);
    double[] a = doubles(actual), e = doubles(expected);
    double diff = 0, norm = 0, own = 0;
    for (int i = 0; i < a.length; i++) {
      diff += (a[i] - e[i]) * (a[i] - e[i]);
      norm += e[i] * e[i];
      own += a[i] * a[i];
    }
    diff = Math.sqrt(diff);
    norm = Math.sqrt(norm);
    Double pytorch = param == null ? null : ref.pytorchF32().get(param);
    if (pytorch != null && pytorch > 1) { // zero in exact arithmetic: PyTorch's f32 ratio is pure noise
      assertTrue(Math.sqrt(own) <= 1e-6 * ref.gradNorm(), what + ": " + key + " should be ~0, has norm " + Math.sqrt(own));
      return 0;
    }
    double err = diff / norm;
    double allowed = p == Precision.F64 ? F64_TOLERANCE
        : Math.max(F32_TOLERANCE, pytorch == null ? 0 : PYTORCH_FACTOR * pytorch);
    assertTrue(err <= allowed, what + ": " + key + " off by " + String.format("%.3g", err) + " > " + allowed
        + (pytorch == null ? "" : " (PyTorch's own f32: " + pytorch + ")"));
    return err;
  }

  private static double norm(Tensor t) {
    double n = 0;
    for (double v : doubles(t)) n += v * v;
    return Math.sqrt(n);
  }

  private static double[] doubles(Tensor t) {
    try (Tensor d = t.to(DType.F64)) {
      return d.toDoubleArray();
    }
  }
}
