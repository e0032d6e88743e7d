package io.d2g.cli;

import io.d2g.D2g;
import io.d2g.Device;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * {@code d2g info}: versions, where LibTorch came from, its CPU threads and BLAS, and the devices this
 * process can use.
 */
@Command(name = "info", mixinStandardHelpOptions = true,
    description = "Print versions, the native library and LibTorch in use, and the available devices.")
final class InfoCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    out.printf("d2g native shim  %s%n", D2g.version());
    out.printf("library          %s%n", D2g.libraryPath());
    out.printf("LibTorch         %s (%s)%n", D2g.torchVersion(), D2g.cudaCompiled() ? "CUDA build" : "CPU build");
    out.printf("Java             %s (%s)%n", Runtime.version(), System.getProperty("java.vm.vendor"));
    out.printf("CPU threads      %d (intra-op; %d CPUs available to Java)%n", D2g.cpuThreads(),
        Runtime.getRuntime().availableProcessors());
    String blas = D2g.blasLibrary();
    out.printf("BLAS             %s%n", blas.isEmpty() ? "(none loaded)" : blas);
    if (blas.contains("/blas/libblas"))
      out.printf("                 the slow reference BLAS: install OpenBLAS for ~50x faster CPU matrix products:%n"
          + "                 sudo apt-get install -y libopenblas0-pthread%n");
    out.printf("CUDA available   %s%n", D2g.cudaAvailable());
    for (Device d : D2g.devices()) {
      out.printf("device           %s%s%n", d, d.isCuda() ? "  " + D2g.cudaDeviceName(d.index()) : "");
    }
    out.flush();
    return 0;
  }
}
