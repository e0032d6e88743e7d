package io.d2g.examples;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.cli.Commands;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Images per second of the scene composer: seeded captioned scenes composed from the training split
 * of a built emoji dataset, batch after batch, into uint8 [B, size, size, 3] tensors on the chosen
 * device. The composer runs on the CPU threads (there is no device composer yet); with a CUDA device
 * each batch is composed into page-locked memory and copied to the GPU, so the figure is what a
 * training loop on that GPU would receive.
 *
 * <pre>
 * ./d2g example scene-composer-bench --data data/emoji-64 --seconds 10   (--help lists the options)
 * java --enable-native-access=ALL-UNNAMED -cp ... io.d2g.examples.SceneComposerBench [options]
 * </pre>
 */
@Command(name = "scene-composer-bench", mixinStandardHelpOptions = true,
    description = "Images per second of the scene composer, into tensors on the chosen device.")
public final class SceneComposerBench implements Callable<Integer> {
  @Option(names = "--data", defaultValue = "data/emoji-64", description = "A built emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--out", defaultValue = "target/results/scene-composer.json",
      description = "Results file (default: ${DEFAULT-VALUE}); replaces only an earlier SceneComposerBench result.")
  Path out;

  @Option(names = "--force", description = "Replace an older results file at --out that does not name its producer.")
  boolean force;

  @Option(names = "--batch", defaultValue = "256", description = "Images per batch, 1 to 65536 (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--size", defaultValue = "64", description = "Side of the scenes in pixels, 8 to 1024 (default: ${DEFAULT-VALUE}).")
  int size;

  @Option(names = "--threads", description = "Composer threads, 1 or more (default: all cores).")
  Integer threadsOption;

  @Option(names = "--seconds", defaultValue = "10", description = "How long to measure, 0.1 to 3600 (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new SceneComposerBench(), args);
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }

  @Override
  public Integer call() {
    require(batch >= 1 && batch <= 65536, "--batch must be 1 to 65536, got " + batch);
    require(size >= 8 && size <= 1024, "--size must be 8 to 1024, got " + size);
    require(threadsOption == null || threadsOption >= 1, "--threads must be at least 1, got " + threadsOption);
    require(seconds >= 0.1 && seconds <= 3600, "--seconds must be 0.1 to 3600, got " + seconds);
    int threads = threadsOption != null ? threadsOption : Runtime.getRuntime().availableProcessors();
    Device device;
    try {
      device = Device.parse(deviceName);
    } catch (RuntimeException e) {
      throw new ParameterException(spec.commandLine(), "--device: " + e.getMessage());
    }
    if (device.isCuda() && !D2g.cudaAvailable()) {
      System.err.println("no CUDA device visible to LibTorch " + D2g.torchVersion());
      return 2;
    }
    SceneComposer composer;
    int sprites;
    long t0 = System.nanoTime();
    try (EmojiDataset ds = EmojiDataset.open(data)) {
      SpriteAtlas atlas = SpriteAtlas.of(ds, EmojiRecord::isTrain);
      sprites = atlas.size();
      composer = new SceneComposer(atlas, SceneComposer.Options.defaults(size));
    }
    System.out.printf("atlas: %d training sprites from %s in %.1f s%n", sprites, data, (System.nanoTime() - t0) / 1e9);

    long bytes = (long) batch * size * size * 3;
    ForkJoinPool pool = new ForkJoinPool(threads);
    Tensor host = device.isCuda() ? Tensor.emptyPinned(DType.U8, batch, size, size, 3) : null;
    MemorySegment seg = host != null ? host.data() : Arena.ofShared().allocate(bytes, 64);
    Tensor wrapped = host != null ? host : Tensor.wrap(seg, DType.U8, batch, size, size, 3);
    Tensor dev = device.isCuda() ? Tensor.empty(DType.U8, device, batch, size, size, 3) : wrapped;
    final int b = batch;
    long seed = 1234;
    // warm-up: JIT and caches
    long index = 0;
    long warmEnd = System.nanoTime() + 2_000_000_000L;
    while (System.nanoTime() < warmEnd) {
      long first = index;
      pool.submit(() -> composer.composeBatch(seed, first, b, seg)).join();
      if (device.isCuda()) dev.copyFrom(host);
      index += batch;
    }
    long images = 0;
    long start = System.nanoTime(), end = start + (long) (seconds * 1e9);
    String lastCaption = null;
    while (System.nanoTime() < end) {
      long first = index;
      String[] caps = pool.submit(() -> composer.composeBatch(seed, first, b, seg)).join();
      if (device.isCuda()) dev.copyFrom(host);
      lastCaption = caps[caps.length - 1];
      index += batch;
      images += batch;
    }
    double elapsed = (System.nanoTime() - start) / 1e9;
    double rate = images / elapsed;
    pool.shutdown();
    System.out.printf("%.0f images/s (%d images in %.2f s, batch %d, size %d, %d threads, to %s)%n", rate, images,
        elapsed, batch, size, threads, device);
    System.out.println("e.g. \"" + lastCaption + "\"");

    Map<String, Object> figures = new LinkedHashMap<>();
    figures.put("images_per_s", Math.round(rate));
    figures.put("batch", batch);
    figures.put("size", size);
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("composer", "Java CPU composer (SceneComposer.composeBatch), " + threads + " threads");
    details.put("device", device.toString());
    details.put("output", "uint8 [batch, size, size, 3] on " + device + (device.isCuda() ? " (pinned host + copy)" : " (wrapped off-heap)"));
    details.put("training_sprites", sprites);
    details.put("seconds", Math.round(elapsed * 100) / 100.0);
    details.put("java", Runtime.version().toString());
    try { // other work on the machine during the run (1, 5, 15 min load averages)
      details.put("loadavg", Files.readString(Path.of("/proc/loadavg")).trim());
    } catch (IOException ignored) {
      // not Linux
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("machine", D2g.machine() + "; " + threads + " composer threads");
    result.put("date", OffsetDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ISO_LOCAL_DATE));
    result.put("figures", figures);
    result.put("details", details);
    if (dev != wrapped) dev.close();
    wrapped.close();
    System.out.println("wrote " + Outputs.writeResults(out, "d2g SceneComposerBench", force, result));
    return 0;
  }

}
