package io.d2g.benchmarks;

import io.d2g.D2g;
import io.d2g.io.Outputs;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Seconds to create the full-size SD1.5 networks on the CPU, with LibTorch's random initialisation
 * and without it ({@link NativeModule#withoutInit}, what a strict {@code DiffusersFolder.load}
 * does), median of {@code -Dd2g.bench.reps} (default 3). Prints a table and writes
 * {@code module-init.json} into {@code -Dd2g.bench.results} (with Maven: {@code -Dbench.results=DIR},
 * default {@code benchmarks/target/results}; {@code -Dbench.results=results} records it in the
 * tracked {@code benchmarks/results/}).
 *
 * <pre>
 * mvn -B -q install -DskipTests && mvn -B -pl benchmarks package exec:exec@module-init [-Dbench.args=-Dd2g.bench.reps=5]
 * </pre>
 */
public final class ModuleInitBench {
  private ModuleInitBench() {}

  public static void main(String[] args) throws Exception {
    int reps = Integer.getInteger("d2g.bench.reps", 3);
    if (args.length > 0 || reps < 1) {
      System.err.println("usage: ModuleInitBench, settings as system properties: -Dd2g.bench.reps=N (N >= 1, default 3), "
          + "-Dd2g.bench.results=DIR (default target/results), -Dd2g.bench.force=true (replace an older module-init.json)");
      System.exit(2);
    }
    Path presets = Path.of("../java/src/main/resources/io/d2g/models/presets/sd15");
    Path results = Path.of(System.getProperty("d2g.bench.results", "target/results"));
    Map<String, Function<Path, NativeModule>> networks = new LinkedHashMap<>();
    networks.put("unet", json -> new UNet2DConditionModel(UNet2DConditionConfig.read(json)));
    networks.put("vae", json -> new AutoencoderKL(AutoencoderKLConfig.read(json)));
    networks.put("text_encoder", json -> new ClipTextModel(ClipTextConfig.read(json)));

    Map<String, Object> figures = new LinkedHashMap<>();
    System.out.println("| network | initialised (s) | withoutInit (s) |");
    System.out.println("|---|---:|---:|");
    for (var e : networks.entrySet()) {
      Path config = presets.resolve(e.getKey() + ".json");
      double init = median(reps, () -> e.getValue().apply(config));
      double empty = median(reps, () -> NativeModule.withoutInit(() -> e.getValue().apply(config)));
      System.out.printf("| %s | %.2f | %.3f |%n", e.getKey(), init, empty);
      figures.put(e.getKey(), Map.of("initialised_s", round(init), "without_init_s", round(empty)));
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("machine", D2g.machine());
    json.put("date", ZonedDateTime.now(ZoneOffset.UTC).toString());
    json.put("method", "seconds from the constructor call to a usable CPU module (f32), median of " + reps
        + "; SD1.5 presets (java/src/main/resources/io/d2g/models/presets/sd15)");
    json.put("figures", figures);
    Path out = Outputs.writeResults(results.resolve("module-init.json"), "d2g ModuleInitBench",
        Boolean.getBoolean("d2g.bench.force"), json);
    System.out.println("wrote " + out);
  }

  private static double median(int reps, Supplier<NativeModule> create) {
    double[] s = new double[reps];
    for (int i = 0; i < reps; i++) {
      long t0 = System.nanoTime();
      NativeModule m = create.get();
      s[i] = (System.nanoTime() - t0) / 1e9;
      m.close();
    }
    Arrays.sort(s);
    return s[reps / 2];
  }

  private static double round(double x) {
    return Math.round(x * 1000) / 1000.0;
  }
}
