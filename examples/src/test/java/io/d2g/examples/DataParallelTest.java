package io.d2g.examples;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.Tensor;
import io.d2g.cli.Main;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.train.ProcessGroup;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Data-parallel training over Gloo on the CPU: two processes give the weights one process gives with
 * the same (whole) batch; a process that dies makes the other fail within seconds, under the launcher
 * or not; and two processes in separate network namespaces, meeting by address and port as two
 * machines do (root only).
 */
class DataParallelTest {
  private static final Logger LOG = LoggerFactory.getLogger(DataParallelTest.class);
  private static final Map<String, String> ARGS = Map.of("--steps", "12", "--batch", "8", "--width", "16", "--size", "8",
      "--threads", "1", "--log-every", "1", "--checkpoint-every", "100", "--seed", "3");

  @TempDir Path tmp;

  @BeforeAll
  static void needsGloo() {
    Assumptions.assumeTrue(ProcessGroup.backends().contains("gloo"), "this build has no Gloo (Debian: libgloo-dev)");
  }

  /** The trainer with ARGS, options of {@code extra} (name, value pairs) replacing ARGS'. */
  private static List<String> trainer(Path out, String... extra) {
    Map<String, String> args = new TreeMap<>(ARGS);
    for (int i = 0; i < extra.length; i += 2) args.put(extra[i], extra[i + 1]);
    return TrainerProcess.command(out, args);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static Process start(List<String> cmd, Map<String, String> env) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    return pb.start();
  }

  private static Map<String, String> rankEnv(int rank, int port, String addr) {
    return Map.of("RANK", "" + rank, "LOCAL_RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", addr, "MASTER_PORT",
        "" + port, "D2G_DIST_TIMEOUT_S", "30");
  }

  @Test
  void twoProcessesReachTheWeightsOfOneWithTheSameBatch() throws Exception {
    Path single = tmp.resolve("single"), pair = tmp.resolve("pair");
    Process one = start(trainer(single), Map.of());
    String oneOut = new String(one.getInputStream().readAllBytes());
    assertEquals(0, one.waitFor(), oneOut);
    List<String> launch = new ArrayList<>(List.of("launch", "--nproc", "2", "--master-port", "0", "--timeout", "30", "--"));
    launch.addAll(trainer(pair));
    assertEquals(0, Main.run(launch.toArray(String[]::new)));
    double diff = relativeDifference(single.resolve("unet"), pair.resolve("unet"));
    LOG.info("1 process vs 2 (Gloo), 12 AdamW steps: ‖w1 − w2‖ / ‖w1‖ over all weights {}", diff);
    assertTrue(diff <= 1e-6, "weights differ by " + diff);
  }

  @Test
  void aProcessThatDiesMakesTheOtherFailWithinSeconds() throws Exception {
    int port = freePort();
    Process r0 = start(trainer(tmp.resolve("a"), "--steps", "1000"), rankEnv(0, port, "127.0.0.1"));
    Process r1 = start(trainer(tmp.resolve("a"), "--steps", "1000"), rankEnv(1, port, "127.0.0.1"));
    CompletableFuture<String> r1Out = CompletableFuture.supplyAsync(() -> drain(r1));
    StringBuilder log = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(r0.getInputStream()))) {
      for (String line; (line = r.readLine()) != null; ) {
        log.append(line).append('\n');
        if (line.startsWith("step 3/")) {
          r1.destroyForcibly();
          long killed = System.nanoTime();
          String rest = new String(r0.getInputStream().readAllBytes());
          log.append(rest);
          assertTrue(r0.waitFor(20, TimeUnit.SECONDS), "rank 0 still runs 20 s after rank 1 died:\n" + log);
          double seconds = (System.nanoTime() - killed) / 1e9;
          LOG.info("rank 0 exited {} s after rank 1 was killed", String.format("%.2f", seconds));
          break;
        }
      }
    } finally {
      r0.destroyForcibly();
      r1.destroyForcibly();
    }
    assertNotEquals(0, r0.exitValue(), log.toString());
    assertTrue(log.toString().contains("died or hung") || log.toString().contains("failed"), log + r1Out.get());
    assertFalse(log.toString().contains("\tat "), "a message, not a stack trace:\n" + log);
  }

  @Test
  void theLauncherStopsEveryProcessWhenOneFails() throws Exception {
    // rank 1 gets an unusable argument and fails at once; rank 0 waits at the rendezvous until stopped
    Path script = tmp.resolve("rank.sh");
    Files.writeString(script, "#!/bin/sh\nif [ \"$RANK\" = 1 ]; then exit 7; fi\nexec \"$@\"\n");
    script.toFile().setExecutable(true);
    List<String> launch = new ArrayList<>(List.of("launch", "--nproc", "2", "--master-port", "0", "--timeout", "60",
        "--grace", "5", "--", script.toString()));
    launch.addAll(trainer(tmp.resolve("b")));
    long t0 = System.nanoTime();
    assertEquals(7, Main.run(launch.toArray(String[]::new)));
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertTrue(seconds < 30, "the launcher took " + seconds + " s");
    assertTrue(ProcessHandle.current().descendants().noneMatch(ProcessHandle::isAlive),
        "no process of the run is left");
  }

  @Test
  void twoMachinesInSeparateNetworkNamespaces() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "network namespaces need root");
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")) && Files.isExecutable(Path.of("/usr/bin/nsenter"))
        && (Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip"))), "unshare, nsenter, ip");
    String ip = Files.isExecutable(Path.of("/usr/sbin/ip")) ? "/usr/sbin/ip" : "/sbin/ip";
    Path gate = tmp.resolve("gate");
    Files.createDirectories(gate);
    // Each "machine": a process in a new network namespace that waits until its network is set up.
    List<Process> machines = new ArrayList<>();
    try {
      for (int rank = 0; rank < 2; rank++) {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/unshare", "--net", "--", "/bin/sh", "-c",
            "while [ ! -e \"$0\" ]; do sleep 0.05; done; exec \"$@\"", gate.resolve("go" + rank).toString()));
        cmd.addAll(trainer(tmp.resolve("netns" + rank), "--steps", "4"));
        machines.add(start(cmd, rankEnv(rank, 29541, "10.213.0.1")));
      }
      Thread.sleep(300);
      long[] pids = {machines.get(0).pid(), machines.get(1).pid()};
      String va = "d2gva" + pids[0] % 10000, vb = "d2gvb" + pids[0] % 10000;
      Assumptions.assumeTrue(run(ip, "link", "add", va, "type", "veth", "peer", "name", vb) == 0,
          "cannot create a veth pair here");
      assertEquals(0, run(ip, "link", "set", va, "netns", "" + pids[0]));
      assertEquals(0, run(ip, "link", "set", vb, "netns", "" + pids[1]));
      String[][] cfg = {{va, "10.213.0.1/24"}, {vb, "10.213.0.2/24"}};
      for (int r = 0; r < 2; r++) {
        String ns = "" + pids[r];
        assertEquals(0, run("/usr/bin/nsenter", "-t", ns, "-n", ip, "addr", "add", cfg[r][1], "dev", cfg[r][0]));
        assertEquals(0, run("/usr/bin/nsenter", "-t", ns, "-n", ip, "link", "set", cfg[r][0], "up"));
        assertEquals(0, run("/usr/bin/nsenter", "-t", ns, "-n", ip, "link", "set", "lo", "up"));
      }
      for (int r = 0; r < 2; r++) Files.createFile(gate.resolve("go" + r));
      String out0 = drain(machines.get(0)), out1 = drain(machines.get(1));
      assertTrue(machines.get(0).waitFor(120, TimeUnit.SECONDS) && machines.get(1).waitFor(120, TimeUnit.SECONDS));
      assertEquals(0, machines.get(0).exitValue(), out0);
      assertEquals(0, machines.get(1).exitValue(), out1);
      assertTrue(out0.contains("step 4/4"), out0);
    } finally {
      machines.forEach(Process::destroyForcibly); // the namespaces and their veth ends go with them
    }
  }

  private static int run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    int code = p.waitFor();
    if (code != 0) LOG.info("{}: {}", String.join(" ", cmd), out.strip());
    return code;
  }

  private static String drain(Process p) {
    try {
      return new String(p.getInputStream().readAllBytes());
    } catch (IOException e) {
      return e.toString();
    }
  }

  /**
   * ‖a − b‖ / ‖a‖ over all weights of two diffusers folders. (Per tensor, a normalisation bias that
   * started at zero differs more, ~1e-5: Adam turns tiny gradient rounding into whole steps there.)
   */
  private static double relativeDifference(Path a, Path b) {
    try (SafetensorsFile x = Safetensors.open(a.resolve("diffusion_pytorch_model.safetensors"));
        SafetensorsFile y = Safetensors.open(b.resolve("diffusion_pytorch_model.safetensors"))) {
      assertEquals(x.names(), y.names());
      double d = 0, norm = 0;
      for (String n : x.names()) {
        try (Tensor p = x.tensor(n); Tensor q = y.tensor(n)) {
          float[] u = p.toFloatArray(), v = q.toFloatArray();
          for (int i = 0; i < u.length; i++) {
            d += Math.pow((double) u[i] - v[i], 2);
            norm += (double) u[i] * u[i];
          }
        }
      }
      assertTrue(d > 0, "bit-identical: is the second run really data parallel?");
      return Math.sqrt(d / norm);
    }
  }
}
