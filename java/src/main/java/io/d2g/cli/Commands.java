package io.d2g.cli;

import io.d2g.D2gException;
import io.d2g.DType;
import io.d2g.data.DatasetException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;

/**
 * Runs a picocli command the way {@code ./d2g} does, for the CLI and for the example and benchmark
 * mains: a bad command line gets its usage and exit code 2; an error the user can act on (a {@link
 * D2gException} such as a missing native library or a refused output, a dataset problem, an I/O
 * error, an invalid value) gets one line "NAME: message" and exit code 1; anything else is a bug and
 * keeps its stack trace.
 */
public final class Commands {
  private Commands() {}

  /** Runs {@code command} (a picocli {@code @Command} object) and returns the exit code. */
  public static int execute(Object command, String... args) {
    CommandLine cli = new CommandLine(command);
    cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
      Throwable t = unwrap(e);
      PrintWriter err = cmd.getErr();
      if (t instanceof D2gException || t instanceof DatasetException || t instanceof IOException
          || t instanceof UncheckedIOException || t instanceof IllegalArgumentException) {
        err.println(cli.getCommandName() + ": " + t.getMessage());
      } else {
        err.println(cli.getCommandName() + ": unexpected error (a bug; please report it with this trace):");
        t.printStackTrace(err);
      }
      err.flush();
      return 1;
    });
    return cli.execute(args);
  }

  /** Runs a command as a program's main: {@link #execute}, then exits with its code. */
  public static void main(Object command, String... args) {
    System.exit(execute(command, args));
  }

  /** The error behind wrappers that say nothing themselves (class initialisation, unchecked I/O). */
  static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while ((t instanceof ExceptionInInitializerError || t instanceof UncheckedIOException) && t.getCause() != null
        && t.getCause() != t)
      t = t.getCause();
    return t;
  }

  /** A --precision value: f32, f16 or bf16 (any spelling DType.parse takes), else a usage error. */
  public static DType precision(String name, CommandLine.Model.CommandSpec spec) {
    DType d;
    try {
      d = DType.parse(name);
    } catch (RuntimeException e) {
      d = null;
    }
    if (d != DType.F32 && d != DType.F16 && d != DType.BF16)
      throw new CommandLine.ParameterException(spec.commandLine(), "--precision must be f32, f16 or bf16, not " + name);
    return d;
  }
}
