package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.cli.Commands;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * GPU smoke test from Java: CUDA tensors, 256 MiB host↔device copies from pinned and pageable
 * memory (next to a plain cudaMemcpy reference measured in the same run), and a bf16 8192³ matmul.
 *
 * <pre>
 * ./d2g example gpu-smoke --mib 256          (./d2g example gpu-smoke --help lists the options)
 * java --enable-native-access=ALL-UNNAMED -cp ... io.d2g.examples.GpuSmoke [options]
 * </pre>
 *
 * <p>{@code --matmul-ref} names a command that times PyTorch's matmul the same way and prints
 * {@code {"torch": ..., "tflops": ..., "ms": ...}}; it runs before ours, and its figure is recorded
 * beside ours.
 */
@Command(name = "gpu-smoke", mixinStandardHelpOptions = true,
    description = "GPU smoke test from Java: host<->device copies next to cudaMemcpy, and a bf16 matmul.")
public final class GpuSmoke implements Callable<Integer> {
  @Option(names = "--out", description = "Results file (default: ${DEFAULT-VALUE}); replaces only an earlier "
      + "GpuSmoke result (--force: any JSON file).", defaultValue = "target/results/gpu-smoke.json")
  Path out;

  @Option(names = "--force", description = "Replace an older results file at --out that does not name its producer.")
  boolean force;

  @Option(names = "--memcpy-ref", description = "The d2g_memcpy_ref program (plain cudaMemcpy of the same size), "
      + "built by CMake beside the shim.")
  Path ref;

  @Option(names = "--mib", defaultValue = "256", description = "Bytes per copy, in MiB, 1 to 16384 (default: ${DEFAULT-VALUE}).")
  int mib;

  @Option(names = "--matmul-ref", description = "A command that times PyTorch's bf16 matmul the same way, e.g. "
      + "\"python3 scripts/gpu/matmul_reference.py\".")
  String matmulRef;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new GpuSmoke(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (mib < 1 || mib > 16384) throw new ParameterException(spec.commandLine(), "--mib must be 1 to 16384, got " + mib);
    if (ref != null && !Files.isExecutable(ref))
      throw new ParameterException(spec.commandLine(), "--memcpy-ref " + ref + " is not an executable program");
    if (!D2g.cudaAvailable()) {
      System.err.println("GpuSmoke needs a CUDA device; LibTorch " + D2g.torchVersion() + " sees none.");
      return 2;
    }
    Device gpu = Device.cuda(0);
    String name = D2g.cudaDeviceName(0);
    System.out.printf("device %s, LibTorch %s, Java %s%n", name, D2g.torchVersion(), Runtime.version());

    long n = (long) mib << 20;
    ObjectMapper json = new ObjectMapper();
    ObjectNode figures = json.createObjectNode();
    ObjectNode reference = ref == null ? null : (ObjectNode) json.readTree(run(ref.toString(), "" + mib, "20"));

    try (Tensor pinned = Tensor.emptyPinned(DType.U8, n);
        Tensor pageable = Tensor.empty(DType.U8, Device.CPU, n);
        Tensor dev = Tensor.empty(DType.U8, gpu, n)) {
      // Fill host memory with a pattern (and fault the pages in) through zero-copy views.
      var pv = pinned.data();
      var gv = pageable.data();
      for (long i = 0; i < n; i += 4096) {
        pv.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i >>> 12));
        gv.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i >>> 12));
      }
      record Case(String key, Tensor dst, Tensor src) {}
      Case[] cases = {
        new Case("h2d_pinned_gbs", dev, pinned), new Case("h2d_pageable_gbs", dev, pageable),
        new Case("d2h_pinned_gbs", pinned, dev), new Case("d2h_pageable_gbs", pageable, dev)
      };
      for (Case c : cases) {
        double gbs = n / median(20, () -> {
          long t0 = System.nanoTime();
          c.dst().copyFrom(c.src()); // synchronous copy_
          return (System.nanoTime() - t0) * 1e-9;
        }) / 1e9;
        ObjectNode f = figures.putObject(c.key());
        f.put("ours", Provenance.round(gbs));
        if (reference != null) {
          double r = reference.get(c.key()).asDouble();
          f.put("cudaMemcpy", r);
          f.put("ratio", Provenance.round(gbs / r));
        }
        f.put("unit", "GB/s");
        System.out.printf("%-18s %8.2f GB/s%s%n", c.key(), gbs,
            reference == null ? "" : String.format("   cudaMemcpy %8.2f GB/s   %5.1f%%", reference.get(c.key()).asDouble(),
                100 * gbs / reference.get(c.key()).asDouble()));
      }
      // round trip check on sampled bytes
      var back = pageable.data();
      for (long i = 0; i < n; i += 4096)
        if (back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != (byte) (i >>> 12))
          throw new IllegalStateException("round trip corrupted byte " + i);
    }

    int m = 8192;
    ObjectNode matmulReference =
        matmulRef == null ? null : (ObjectNode) json.readTree(run((matmulRef + " " + m).trim().split("\\s+")));
    D2g.manualSeed(0);
    try (Tensor a = Tensor.randn(DType.BF16, gpu, m, m); Tensor b = Tensor.randn(DType.BF16, gpu, m, m)) {
      // Warm up for about two seconds so that clocks and cuBLAS heuristics settle.
      long warmEnd = System.nanoTime() + 2_000_000_000L;
      while (System.nanoTime() < warmEnd) {
        for (int i = 0; i < 20; i++) a.matmul(b).close();
        D2g.synchronize(gpu);
      }
      int inner = 50;
      double perMatmul = median(9, () -> {
        long t0 = System.nanoTime();
        for (int i = 0; i < inner; i++) a.matmul(b).close();
        D2g.synchronize(gpu);
        return (System.nanoTime() - t0) * 1e-9 / inner;
      });
      double tflops = 2.0 * m * m * m / perMatmul / 1e12;
      ObjectNode fig = figures.putObject("bf16_matmul_tflops").put("ours", Provenance.round(tflops));
      String versus = "";
      if (matmulReference != null) {
        double theirs = matmulReference.get("tflops").asDouble();
        fig.put("pytorch", theirs).put("ratio", Provenance.round(tflops / theirs))
            .put("pytorch_version", matmulReference.get("torch").asText());
        versus = "; PyTorch " + theirs + " TFLOP/s";
      }
      fig.put("unit", "TFLOP/s").put("ms", Provenance.round(perMatmul * 1e3));
      System.out.printf("bf16 matmul %d^3   %8.1f TFLOP/s (%.3f ms)%s%n", m, tflops, perMatmul * 1e3, versus);
    }

    ObjectNode root = json.createObjectNode();
    root.put("machine", name + ", LibTorch " + D2g.torchVersion() + ", Java " + Runtime.version().feature());
    root.put("date", LocalDate.now().toString());
    root.put("bytes", n);
    root.put("method", "host clock around each synchronous copy, median of 20 after warm-up; "
        + "matmul: median of 9 batches of 50 after 2 s of warm-up, synchronised");
    root.set("figures", figures);
    System.out.println("wrote " + Outputs.writeResults(out, "d2g GpuSmoke", force, root));
    return 0;
  }

  private static double median(int reps, Supplier<Double> sample) {
    for (int i = 0; i < 3; i++) sample.get();
    double[] t = new double[reps];
    for (int i = 0; i < reps; i++) t[i] = sample.get();
    Arrays.sort(t);
    return t[reps / 2];
  }


  private static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String s = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed");
    return s;
  }
}
