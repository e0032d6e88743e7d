package io.d2g.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2g;
import io.d2g.benchmarks.ZeroCopyFigures.Figure;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the zero-copy benchmark for d2g and its peers (DJL, JavaCPP), each benchmark in its own forked
 * JVM so that no process ever holds two LibTorch versions, then writes {@code zero-copy.json} and
 * prints a markdown table.
 *
 * <p>System properties: {@code d2g.bench.libs} (default {@code ours,djl,javacpp}; peers whose classes
 * are absent, i.e. built without {@code -Ppeers}, are skipped), {@code d2g.bench.figures} (comma list
 * of figure keys or method names, default all), {@code d2g.bench.forks} (1), {@code
 * d2g.bench.warmup} (5 iterations), {@code d2g.bench.iterations} (5), {@code d2g.bench.time}
 * (seconds per iteration, 1), {@code d2g.bench.results} (folder of zero-copy.json, default {@code
 * target/results}; it is only written when every library and every figure was measured, unless
 * {@code d2g.bench.write=true}; an existing zero-copy.json is replaced only when this report wrote it,
 * or with {@code d2g.bench.force=true} when it is any JSON file), {@code
 * d2g.library} (passed on to the d2g forks), {@code d2g.bench.floor} (the {@code
 * d2g_host_copy_floor} program: run before and after the benchmarks, its memcpy and streaming-copy
 * times go into the JSON as the machine's memory floor at the time; skipped when absent).
 */
public final class ZeroCopyReport {
  private ZeroCopyReport() {}

  /** A library under test: its name in the JSON, its benchmark class and the JVM flags its forks need. */
  record Library(String key, String title, String benchmarkClass, List<String> jvmArgs) {}

  static final List<String> COMMON_JVM_ARGS = List.of("-Xms1g", "-Xmx4g", "--enable-native-access=ALL-UNNAMED");

  static List<Library> libraries() {
    List<String> ours = new ArrayList<>();
    String lib = System.getProperty("d2g.library");
    if (lib != null && !lib.isBlank()) ours.add("-Dd2g.library=" + lib);
    return List.of(
        new Library("ours", "d2g (ours)", "io.d2g.benchmarks.ZeroCopyOurs", ours),
        new Library("djl", "DJL 0.36.0 (LibTorch 2.7.1)", "io.d2g.benchmarks.peers.ZeroCopyDjl",
            List.of("-Dai.djl.offline=true", "-DOPT_OUT_TRACKING=true", "-Dai.djl.default_engine=PyTorch")),
        new Library("javacpp", "JavaCPP 1.5.13 (LibTorch 2.10.0)", "io.d2g.benchmarks.peers.ZeroCopyJavacpp",
            List.of()));
  }

  /** Targets from issue 2; every figure must also beat both peers. */
  static final Map<String, Double> TARGETS = Map.of(
      "wrap_64mib_us", 5.0, "tiny_op_us", 0.8, "copy_in_existing_64mib_ms", 2.8);

  public static void main(String[] args) throws RunnerException, IOException {
    if (args.length > 0) {
      System.err.println("usage: ZeroCopyReport, settings as system properties (-Dd2g.bench.libs=ours,djl,javacpp, "
          + "-Dd2g.bench.forks=N, -Dd2g.bench.iterations=N, -Dd2g.bench.results=DIR, ...; see benchmarks/README.md)");
      System.exit(2);
    }
    List<String> wantedLibs = List.of(System.getProperty("d2g.bench.libs", "ours,djl,javacpp").split(","));
    String figuresProp = System.getProperty("d2g.bench.figures", "");
    List<Figure> figures = ZeroCopyFigures.FIGURES.stream()
        .filter(f -> figuresProp.isBlank() || List.of(figuresProp.split(",")).stream()
            .anyMatch(w -> w.equals(f.key()) || w.equals(f.method())))
        .toList();
    int forks = Integer.getInteger("d2g.bench.forks", 1);
    int warmup = Integer.getInteger("d2g.bench.warmup", 5);
    int iterations = Integer.getInteger("d2g.bench.iterations", 5);
    int seconds = Integer.getInteger("d2g.bench.time", 1);
    Path resultsDir = Path.of(System.getProperty("d2g.bench.results", "target/results"));

    Map<String, Object> floorBefore = hostCopyFloor();

    // figure key -> library key -> score (in the figure's unit); and its error
    Map<String, Map<String, Double>> scores = new LinkedHashMap<>();
    Map<String, Map<String, Double>> errors = new LinkedHashMap<>();
    Map<String, Map<String, String>> routes = new LinkedHashMap<>();
    List<Library> run = new ArrayList<>();
    for (Library library : libraries()) {
      if (!wantedLibs.contains(library.key())) continue;
      if (!present(library.benchmarkClass())) {
        System.out.println("skipping " + library.title() + ": " + library.benchmarkClass()
            + " is not built (build with -Ppeers)");
        continue;
      }
      run.add(library);
      String methods = figures.stream().map(Figure::method).reduce((a, b) -> a + "|" + b).orElseThrow();
      Path raw = Path.of("target", "zero-copy-jmh-" + library.key() + ".json");
      Files.createDirectories(raw.getParent());
      List<String> jvmArgs = new ArrayList<>(COMMON_JVM_ARGS);
      jvmArgs.addAll(library.jvmArgs());
      ChainedOptionsBuilder options = new OptionsBuilder()
          .include("^" + Pattern.quote(library.benchmarkClass()) + "\\.(" + methods + ")(_\\w+)?$")
          .forks(forks)
          .warmupIterations(warmup)
          .warmupTime(TimeValue.seconds(seconds))
          .measurementIterations(iterations)
          .measurementTime(TimeValue.seconds(seconds))
          .jvmArgs(jvmArgs.toArray(String[]::new))
          .jvmArgsAppend()
          .shouldFailOnError(true)
          .resultFormat(ResultFormatType.JSON)
          .result(raw.toString());
      Collection<RunResult> results = new Runner(options.build()).run();
      for (RunResult r : results) {
        String benchmark = r.getParams().getBenchmark();
        String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        String base = method.contains("_") ? method.substring(0, method.indexOf('_')) : method;
        Figure figure = figures.stream().filter(f -> f.method().equals(base)).findFirst().orElseThrow();
        double factor = factor(r.getPrimaryResult().getScoreUnit(), figure.unit());
        double score = r.getPrimaryResult().getScore() * factor;
        double error = r.getPrimaryResult().getScoreError() * factor;
        Double previous = scores.computeIfAbsent(figure.key(), k -> new LinkedHashMap<>()).get(library.key());
        if (previous == null || score < previous) { // a peer's faster route counts
          scores.get(figure.key()).put(library.key(), score);
          errors.computeIfAbsent(figure.key(), k -> new LinkedHashMap<>()).put(library.key(), error);
          routes.computeIfAbsent(figure.key(), k -> new LinkedHashMap<>()).put(library.key(), method);
        }
      }
    }

    Map<String, Object> floorAfter = hostCopyFloor();
    String machine = D2g.machine();
    String date = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("machine", machine);
    json.put("date", date);
    Map<String, Object> figs = new LinkedHashMap<>();
    for (Figure f : figures) {
      Map<String, Object> entry = new LinkedHashMap<>();
      for (String lib : List.of("ours", "djl", "javacpp")) {
        Double s = scores.getOrDefault(f.key(), Map.of()).get(lib);
        entry.put(lib, s == null ? null : round(s));
      }
      entry.put("unit", f.unitName());
      figs.put(f.key(), entry);
    }
    json.put("figures", figs);
    if (floorBefore != null || floorAfter != null) {
      Map<String, Object> floor = new LinkedHashMap<>();
      floor.put("program", "d2g_host_copy_floor (benchmarks/native/host_copy_floor.c): 64 MiB, best of 20");
      floor.put("before", floorBefore);
      floor.put("after", floorAfter);
      json.put("host_copy_floor", floor);
    }

    System.out.println();
    System.out.println("Machine: " + machine + ", " + date);
    System.out.println();
    System.out.println(table(figures, scores, errors, routes));
    System.out.println(targets(figures, scores));
    if (floorBefore != null || floorAfter != null)
      System.out.println("Host copy floor (ms), before: " + floorBefore + ", after: " + floorAfter);

    boolean complete = run.size() == 3 && figures.size() == ZeroCopyFigures.FIGURES.size();
    if (complete || Boolean.getBoolean("d2g.bench.write")) {
      Path out = Outputs.writeResults(resultsDir.resolve("zero-copy.json"), "d2g ZeroCopyReport",
          Boolean.getBoolean("d2g.bench.force"), json);
      System.out.println("wrote " + out);
    } else {
      System.out.println("not writing zero-copy.json: not every library and figure was measured "
          + "(-Dd2g.bench.write=true forces it)");
    }
  }

  /**
   * The machine's memory floor now: the figures d2g_host_copy_floor writes (memcpy and streaming
   * copies of 64 MiB), or null when the program is not configured or not built.
   */
  @SuppressWarnings("unchecked")
  static Map<String, Object> hostCopyFloor() throws IOException {
    String program = System.getProperty("d2g.bench.floor", "");
    if (program.isBlank() || !Files.isExecutable(Path.of(program))) {
      if (!program.isBlank()) System.out.println("no host copy floor: " + program + " is not built");
      return null;
    }
    Path dir = Files.createTempDirectory("host-copy-floor"), out = dir.resolve("floor.json"); // the program makes it
    try {
      Process p = new ProcessBuilder(program, out.toString()).inheritIO().start();
      if (p.waitFor() != 0) {
        System.out.println("no host copy floor: " + program + " exited with " + p.exitValue());
        return null;
      }
      Map<String, Object> figures = new ObjectMapper().readValue(out.toFile(), LinkedHashMap.class);
      figures.remove("bytes");
      return figures;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(dir);
    }
  }

  static boolean present(String className) {
    try {
      Class.forName(className, false, ZeroCopyReport.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }

  /** Multiplier from a JMH score unit ("us/op") to a figure's unit. */
  static double factor(String scoreUnit, TimeUnit to) {
    TimeUnit from = switch (scoreUnit) {
      case "ns/op" -> TimeUnit.NANOSECONDS;
      case "us/op" -> TimeUnit.MICROSECONDS;
      case "ms/op" -> TimeUnit.MILLISECONDS;
      case "s/op" -> TimeUnit.SECONDS;
      default -> throw new IllegalStateException("unexpected JMH unit " + scoreUnit);
    };
    return (double) from.toNanos(1) / to.toNanos(1);
  }

  static BigDecimal round(double v) {
    return new BigDecimal(v).round(new MathContext(3));
  }

  static String fmt(Double v) {
    return v == null ? "–" : round(v).toPlainString();
  }

  static String table(List<Figure> figures, Map<String, Map<String, Double>> scores,
      Map<String, Map<String, Double>> errors, Map<String, Map<String, String>> routes) {
    StringBuilder sb = new StringBuilder();
    sb.append("| figure | unit | d2g (ours) | DJL 0.36.0 | JavaCPP 1.5.13 |\n");
    sb.append("|---|---|---:|---:|---:|\n");
    for (Figure f : figures) {
      sb.append("| ").append(f.key()).append(" | ").append(f.unitName());
      for (String lib : List.of("ours", "djl", "javacpp")) {
        Double s = scores.getOrDefault(f.key(), Map.of()).get(lib);
        Double e = errors.getOrDefault(f.key(), Map.of()).get(lib);
        String route = routes.getOrDefault(f.key(), Map.of()).get(lib);
        sb.append(" | ").append(fmt(s));
        if (e != null && !e.isNaN()) sb.append(" ± ").append(fmt(e));
        if (route != null && route.contains("_")) sb.append(" (").append(route.substring(route.indexOf('_') + 1)).append(")");
      }
      sb.append(" |\n");
    }
    return sb.toString();
  }

  static String targets(List<Figure> figures, Map<String, Map<String, Double>> scores) {
    StringBuilder sb = new StringBuilder("Targets:\n");
    for (Figure f : figures) {
      Map<String, Double> s = scores.getOrDefault(f.key(), Map.of());
      Double ours = s.get("ours");
      if (ours == null) continue;
      List<String> notes = new ArrayList<>();
      Double target = TARGETS.get(f.key());
      if (target != null)
        notes.add(String.format(Locale.ROOT, "target <= %s %s: %s", target, f.unitName(), ours <= target ? "met" : "MISSED"));
      for (String peer : List.of("djl", "javacpp")) {
        Double p = s.get(peer);
        if (p != null) notes.add(peer + (ours < p ? String.format(Locale.ROOT, " %.2fx slower", p / ours) : " AHEAD of ours"));
      }
      sb.append("  ").append(f.key()).append(": ").append(String.join("; ", notes)).append('\n');
    }
    return sb.toString();
  }
}
