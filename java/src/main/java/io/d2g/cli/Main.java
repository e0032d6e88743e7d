package io.d2g.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine;

/** Entry point of the {@code ./d2g} launcher. */
@Command(
    name = "d2g",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Diffusion2GAN for the JVM: one-step text-to-image GANs distilled from diffusion models.",
    footer = {"", "Example and benchmark mains: ./d2g example --help (from the repository).",
        "The teacher: ./d2g teacher autoencoder|text-encoder|train|bench ... (the examples train-autoencoder, "
            + "pretrain-text-encoder, train-teacher and teacher-bench)."},
    subcommands = {InfoCommand.class, DataCommand.class, SampleCommand.class, PairsCommand.class, EvalCommand.class, TablesCommand.class,
        LpipsCommand.class,
        LaunchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns the exit code (for tests and embedding). */
  public static int run(String... args) {
    return Commands.execute(new Main(), args);
  }

  /** Without a command: the usage on stderr and exit code 2, as for any other incomplete command line. */
  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing command: say what to do (info, data, ...)");
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"d2g " + (v == null ? "(development build)" : v)};
    }
  }
}
