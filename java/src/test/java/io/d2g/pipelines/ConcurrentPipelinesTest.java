package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.d2g.DType;
import io.d2g.Device;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One pipeline object used by several threads at once (a server's case) gives every caller the picture
 * the same call gives alone: the one-step pipeline and the guided multi-step loop share per-shape
 * buffers and CUDA graphs, so their runs take turns. (Without that, 16 threads got wrong pictures.)
 */
class ConcurrentPipelinesTest {
  private static final List<String> PROMPTS = List.of("a red car, noto style", "a cat, twemoji style", "a cat", "a red car");
  private static final int THREADS = 8, CALLS = 3;

  @Test
  void concurrentCallsGiveTheSequentialPictures(@TempDir Path tmp) throws Exception {
    Path folder = TinyPipeline.write(tmp.resolve("pipe"));
    try (TextToImage one = TextToImage.load(folder, TextToImage.Options.on(Device.CPU, DType.F32));
        MultiStepTextToImage multi = MultiStepTextToImage.load(folder, Device.CPU, null)) {
      check((prompt, seed) -> one.generate(prompt, seed));
      check((prompt, seed) -> multi.generate(List.of(prompt), 3, 4.0, seed)[0]);
    }
  }

  private static void check(BiFunction<String, Long, BufferedImage> make) throws Exception {
    int[][] want = new int[THREADS * CALLS][];
    for (int k = 0; k < want.length; k++) want[k] = pixels(make.apply(PROMPTS.get(k % PROMPTS.size()), 100L + k));
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<int[][]>> futures = new ArrayList<>();
      for (int th = 0; th < THREADS; th++) {
        int first = th * CALLS;
        futures.add(pool.submit(() -> {
          int[][] got = new int[CALLS][];
          for (int j = 0; j < CALLS; j++) got[j] = pixels(make.apply(PROMPTS.get((first + j) % PROMPTS.size()), 100L + first + j));
          return got;
        }));
      }
      for (int th = 0; th < THREADS; th++) {
        int[][] got = futures.get(th).get();
        for (int j = 0; j < CALLS; j++) assertArrayEquals(want[th * CALLS + j], got[j], "thread " + th + ", call " + j);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static int[] pixels(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }
}
