package io.d2g.io;

import io.d2g.D2gException;
import io.d2g.data.DatasetException;
import java.nio.file.Path;

/**
 * One write in a process of its own, so that the tests can run it under a file-size limit or
 * without the right to override file permissions: {@code WriterProbe WRITER TARGET WORK VARIANT [force]}.
 * Exit code 0 written; 3 refused or failed with the library's error (printed); anything else a crash.
 */
public final class WriterProbe {
  public static void main(String[] args) {
    Writers w = Writers.valueOf(args[0]);
    try {
      w.run(Path.of(args[1]), args.length > 4 && args[4].equals("force"), Path.of(args[2]), Integer.parseInt(args[3]));
      System.out.println("written");
    } catch (D2gException | DatasetException e) {
      System.out.println("refused: " + e.getMessage());
      System.exit(3);
    }
  }
}
