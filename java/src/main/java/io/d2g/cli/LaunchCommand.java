package io.d2g.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code d2g launch}: starts one process per GPU (or per CPU worker) of a data-parallel run, like
 * torchrun: each gets {@code RANK}, {@code LOCAL_RANK}, {@code WORLD_SIZE}, {@code LOCAL_WORLD_SIZE},
 * {@code MASTER_ADDR} and {@code MASTER_PORT}, which {@code ProcessGroup.fromEnvironment} reads. On
 * several machines, run it on each with the same {@code --nnodes}, {@code --master-addr} and
 * {@code --master-port} and its own {@code --node-rank}. Output lines are prefixed with their rank.
 * When a process fails, the others are stopped (SIGTERM, then SIGKILL after {@code --grace}) and the
 * launcher exits with the failed process's code.
 */
@Command(name = "launch", mixinStandardHelpOptions = true,
    description = {"Run COMMAND in --nproc processes of a data-parallel group (torchrun's environment variables).",
        "Example: d2g launch --nproc 2 -- ./d2g example train-denoiser --out runs/ddp"})
final class LaunchCommand implements Callable<Integer> {
  @Option(names = "--nproc", required = true, description = "Processes on this machine (one per GPU), 1 to 1024.")
  int nproc;

  @Option(names = "--nnodes", defaultValue = "1", description = "Machines in the run (default: ${DEFAULT-VALUE}).")
  int nnodes;

  @Option(names = "--node-rank", defaultValue = "0", description = "This machine's index, 0 to nnodes-1 (default: ${DEFAULT-VALUE}).")
  int nodeRank;

  @Option(names = "--master-addr", defaultValue = "127.0.0.1",
      description = "Address of the machine with node rank 0, reachable from all (default: ${DEFAULT-VALUE}).")
  String masterAddr;

  @Option(names = "--master-port", defaultValue = "29500",
      description = "Its rendezvous port; 0 picks a free one (one machine only) (default: ${DEFAULT-VALUE}).")
  int masterPort;

  @Option(names = "--timeout", defaultValue = "300",
      description = "Seconds a rendezvous or a collective may take before the processes fail (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(names = "--grace", defaultValue = "10",
      description = "Seconds the other processes get to stop after one fails, before SIGKILL (default: ${DEFAULT-VALUE}).")
  int graceSeconds;

  @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "The program and its arguments (after --).")
  List<String> command;

  @Spec CommandSpec spec;

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }

  @Override
  public Integer call() throws Exception {
    require(nproc >= 1 && nproc <= 1024, "--nproc must be 1 to 1024");
    require(nnodes >= 1 && nnodes <= 65536, "--nnodes must be 1 to 65536");
    require(nodeRank >= 0 && nodeRank < nnodes, "--node-rank must be 0 to nnodes-1");
    require(masterPort >= 0 && masterPort <= 65535, "--master-port must be 0 to 65535");
    require(masterPort != 0 || nnodes == 1, "--master-port 0 (pick a free port) works on one machine only");
    require(timeoutSeconds >= 1, "--timeout must be at least 1 second");
    require(graceSeconds >= 0, "--grace must be 0 or more seconds");
    int port = masterPort != 0 ? masterPort : freePort();
    int world = nnodes * nproc;
    PrintStream out = System.out;
    List<Process> procs = new ArrayList<>();
    List<Thread> pumps = new ArrayList<>();
    Thread stopAll = new Thread(() -> stop(procs), "d2g-launch-stop");
    Runtime.getRuntime().addShutdownHook(stopAll); // Ctrl-C or SIGTERM on the launcher stops its processes
    try {
      for (int local = 0; local < nproc; local++) {
        int rank = nodeRank * nproc + local;
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("RANK", Integer.toString(rank));
        env.put("LOCAL_RANK", Integer.toString(local));
        env.put("WORLD_SIZE", Integer.toString(world));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(nproc));
        env.put("MASTER_ADDR", masterAddr);
        env.put("MASTER_PORT", Integer.toString(port));
        env.put("D2G_DIST_TIMEOUT_S", Integer.toString(timeoutSeconds));
        Process p;
        try {
          p = pb.start();
        } catch (IOException e) {
          throw new ParameterException(spec.commandLine(), "cannot start " + command.getFirst() + ": " + e.getMessage());
        }
        procs.add(p);
        Thread pump = Thread.ofPlatform().daemon().start(() -> prefix(p, "[rank " + rank + "] ", out));
        pumps.add(pump);
      }
      int code = 0;
      List<Process> running = new ArrayList<>(procs);
      while (!running.isEmpty() && code == 0) {
        for (Process p : List.copyOf(running)) {
          if (p.waitFor(50, TimeUnit.MILLISECONDS)) {
            running.remove(p);
            if (p.exitValue() != 0) {
              code = p.exitValue();
              System.err.printf("d2g launch: rank %d exited with code %d; stopping the others%n",
                  nodeRank * nproc + procs.indexOf(p), code);
            }
          }
        }
      }
      if (code != 0) stop(procs);
      for (Thread t : pumps) t.join(2000);
      return code;
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(stopAll);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs anyway
      }
    }
  }

  /** SIGTERM to every process still running, SIGKILL to those still running after the grace time. */
  private void stop(List<Process> procs) {
    for (Process p : procs) if (p.isAlive()) p.descendants().forEach(ProcessHandle::destroy);
    for (Process p : procs) if (p.isAlive()) p.destroy();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(graceSeconds);
    for (Process p : procs) {
      try {
        long left = deadline - System.nanoTime();
        if (left > 0) p.waitFor(left, TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (p.isAlive()) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }
  }

  private static void prefix(Process p, String tag, PrintStream out) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        synchronized (out) {
          out.println(tag + line);
        }
      }
    } catch (IOException ignored) {
      // the process went away
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
