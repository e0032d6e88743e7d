package io.d2g.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.eval.Embeddings;
import io.d2g.eval.Evaluation;
import io.d2g.eval.JudgeMetrics;
import io.d2g.eval.SampleSet;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.ImageTextJudge;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code d2g eval}: grades a sample folder with the judge (see {@link Evaluation}). */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = {"Grade a folder of generated samples with the evaluation judge: text-image score, prompt "
        + "retrieval, FD to the real pictures, fidelity to a teacher's samples, diversity, time per image; each with a "
        + "95%% bootstrap interval.",
        "A sample folder holds samples.jsonl (one line per sample: {\"image\": \"0001.png\", \"prompt\": \"...\", "
            + "\"seed\": 42, \"seconds\": 0.01}) and the images, all of one size."})
final class EvalCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--samples", required = true, description = "The sample folder to grade.")
  Path samples;

  @Option(names = "--judge", defaultValue = "models/judge",
      description = "The judge (a folder with config.json and weights; default: ${DEFAULT-VALUE}).")
  Path judge;

  @Option(names = "--real", description = "A sample folder of real pictures (e.g. from 'd2g data scenes'): the real side of FD.")
  Path real;

  @Option(names = "--teacher", description = "The teacher's sample folder, for fidelity (pairs by prompt and seed).")
  Path teacher;

  @Option(names = "--rounds", defaultValue = "1000", description = "Bootstrap rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the bootstrap (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--out", description = "Also write the figures to this results file (JSON).")
  Path out;

  @Override
  public Integer call() {
    if (rounds < 10) throw new CommandLine.ParameterException(spec.commandLine(), "--rounds must be at least 10");
    if (!Files.isRegularFile(judge.resolve("config.json")))
      throw new CommandLine.ParameterException(spec.commandLine(), "--judge " + judge + " is not a model folder "
          + "(no config.json); train one with './d2g example train-judge'");
    SampleSet set = SampleSet.open(samples);
    SampleSet teacherSet = teacher == null ? null : SampleSet.open(teacher);
    try (ImageTextJudge j = DiffusersFolder.load(judge, ImageTextJudge.FAMILY)) {
      j.eval();
      Embeddings realEmb = real == null ? null : Evaluation.embed(j, SampleSet.open(real));
      ObjectNode figures = Evaluation.evaluate(j, set, realEmb, teacherSet, new JudgeMetrics.Interval(rounds, seed));
      figures.put("judge", judge.toAbsolutePath().normalize().toString());
      figures.put("machine", io.d2g.D2g.machine()).put("date", java.time.Instant.now().toString());
      figures.put("sample_folder", samples.toAbsolutePath().normalize().toString());
      spec.commandLine().getOut().println(figures.toPrettyString());
      if (out != null) Outputs.writeResults(out, "d2g eval", false, figures);
    }
    return 0;
  }
}
