package io.d2g.examples;

import io.d2g.cli.Commands;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * {@code ./d2g example NAME [options]}: runs one of the example and benchmark mains of this module;
 * {@code ./d2g example --help} lists them, {@code ./d2g example NAME --help} shows one's options.
 */
@Command(name = "d2g example", mixinStandardHelpOptions = true,
    description = "Run an example or benchmark main. Results files go to target/results/ unless --out says otherwise.",
    subcommands = {DiffusersParity.class, ElpipsBench.class, GpuSmoke.class, PairsBench.class, ReliabilityBench.class, SceneComposerBench.class, Sd15Bench.class, Sd15PairsBench.class, TeacherBench.class, TrainAutoencoder.class, TrainCheck.class, TrainDenoiser.class,
        LpipsRecon.class, TrainJudge.class, TrainLpips.class, TrainStepBench.class, TrainTeacher.class, TrainTextEncoder.class,
        CommandLine.HelpCommand.class})
public final class Examples implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new Examples(), args);
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing example name");
  }
}
