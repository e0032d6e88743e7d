package io.d2g.examples;

import io.d2g.D2g;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** Where a training example computes: {@code --device} and {@code --threads}, one picocli mixin for all of them. */
final class ComputeOptions {
  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
  String device = "cpu";

  @Option(names = "--threads", description = "CPU threads for LibTorch (default: one per core).")
  Integer threads;

  @Spec(Spec.Target.MIXEE) CommandSpec spec;

  /** The device, once LibTorch's CPU threads are set when asked; a bad value is a usage error. */
  Device apply() {
    if (threads != null && (threads < 1 || threads > 1024))
      throw new ParameterException(spec.commandLine(), "--threads must be 1 to 1024, not " + threads);
    Device d;
    try {
      d = Device.parse(device);
    } catch (InvalidArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--device: " + e.getMessage());
    }
    if (threads != null) D2g.setCpuThreads(threads);
    return d;
  }
}
