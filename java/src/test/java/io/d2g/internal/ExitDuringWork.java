package io.d2g.internal;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import java.util.List;

/**
 * Exits the JVM while other threads are inside native work: {@code ExitDuringWork MILLIS}. Three
 * threads run UNet forward passes and one copies tensors to the heap, all in a loop; after MILLIS
 * milliseconds the main thread calls {@code System.exit(0)}. Exit code 0 means a clean exit; a crash
 * under LibTorch's teardown shows as 134 (SIGABRT after the JVM's fatal error handler) or 139.
 */
public final class ExitDuringWork {
  public static void main(String[] args) throws InterruptedException {
    UNet2DConditionConfig config = UNet2DConditionConfig.builder()
        .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"),
            List.of(32, 64))
        .crossAttentionDim(32).normNumGroups(8).attentionHeads(4).build();
    for (int k = 0; k < 3; k++) start(() -> {
      try (UNet2DConditionModel unet = new UNet2DConditionModel(config);
          Tensor x = Tensor.randn(DType.F32, Device.CPU, 2, 4, 32, 32);
          Tensor c = Tensor.randn(DType.F32, Device.CPU, 2, 7, 32)) {
        while (true) unet.forward(x, 10, c).close();
      }
    });
    start(() -> {
      float[] host = new float[1 << 20];
      while (true) {
        try (Tensor t = Tensor.randn(DType.F32, Device.CPU, 1 << 20)) {
          t.copyTo(host);
        }
      }
    });
    Thread.sleep(Long.parseLong(args[0]));
    System.exit(0);
  }

  private static void start(Runnable work) {
    Thread t = new Thread(() -> {
      try {
        work.run();
      } catch (IllegalStateException refused) {
        // the exit guard refused new native work: the expected end of this thread
      }
    });
    t.setDaemon(true);
    t.start();
  }
}
