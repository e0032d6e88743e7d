package io.d2g.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * A kind of output that d2g writes (a dataset folder, a results file, a weights file) and how to
 * recognise an earlier one on disk. {@link Outputs} replaces an existing path only when its kind
 * recognises it as one of its own; everything else is refused, so that no command or API call ever
 * deletes or overwrites what d2g did not create.
 */
public interface OutputKind {
  /** What the output is, for messages: "emoji dataset", "results file". */
  String description();

  /**
   * Whether {@code existing} is a complete output of this kind, which a new one may replace. For a
   * folder kind, also that it holds nothing else.
   */
  boolean recognises(Path existing) throws IOException;

  /**
   * Whether {@code existing}, though not {@linkplain #recognises recognised}, may be replaced when
   * the caller forces it: it holds nothing but this kind's own files (an older, damaged or partly
   * written output). Never a folder that holds anything else. Default: never.
   */
  default boolean replaceableWhenForced(Path existing) throws IOException {
    return false;
  }

  /** The key that {@link #results} files carry to say which program wrote them. */
  String PRODUCER_KEY = "producer";

  /**
   * A JSON results file written by {@code producer} (e.g. "d2g GpuSmoke"): recognised when it is a
   * JSON object whose {@value #PRODUCER_KEY} is that producer; when forced, any JSON object (a results
   * file from before files named their producer) may be replaced.
   */
  static OutputKind results(String producer) {
    return new OutputKind() {
      @Override
      public String description() {
        return "results file of " + producer;
      }

      @Override
      public boolean recognises(Path existing) throws IOException {
        JsonNode n = KindSupport.readJsonObject(existing);
        return n != null && producer.equals(n.path(PRODUCER_KEY).asText(null));
      }

      @Override
      public boolean replaceableWhenForced(Path existing) throws IOException {
        return KindSupport.readJsonObject(existing) != null;
      }
    };
  }

  /** A JSON file of a model or tokenizer folder (config.json, vocab.json): any JSON object. */
  static OutputKind jsonFile(String description) {
    return new OutputKind() {
      @Override
      public String description() {
        return description;
      }

      @Override
      public boolean recognises(Path existing) throws IOException {
        return KindSupport.readJsonObject(existing) != null;
      }
    };
  }

  /** A safetensors file: recognised when it has a well-formed safetensors header. */
  static OutputKind safetensors() {
    return new OutputKind() {
      @Override
      public String description() {
        return "safetensors file";
      }

      @Override
      public boolean recognises(Path existing) throws IOException {
        return KindSupport.isSafetensors(existing);
      }
    };
  }

  /**
   * A safetensors file whose header metadata has {@code key} = {@code value} (e.g. d2g's training
   * checkpoints, {@code format = d2g-checkpoint}); when forced, any safetensors file may be replaced.
   */
  static OutputKind safetensorsWith(String description, String key, String value) {
    return new OutputKind() {
      @Override
      public String description() {
        return description;
      }

      @Override
      public boolean recognises(Path existing) throws IOException {
        JsonNode meta = KindSupport.safetensorsMetadata(existing);
        return meta != null && value.equals(meta.path(key).asText(null));
      }

      @Override
      public boolean replaceableWhenForced(Path existing) throws IOException {
        return KindSupport.isSafetensors(existing);
      }
    };
  }

  /**
   * A PNG picture written by d2g (it carries the text chunk {@code Software: d2g}); when forced, any
   * PNG file may be replaced.
   */
  static OutputKind png(String description) {
    return new OutputKind() {
      @Override
      public String description() {
        return description;
      }

      @Override
      public boolean recognises(Path existing) throws IOException {
        return KindSupport.isPng(existing) && KindSupport.pngSoftware(existing).equals(Png.SOFTWARE);
      }

      @Override
      public boolean replaceableWhenForced(Path existing) throws IOException {
        return KindSupport.isPng(existing);
      }
    };
  }

  /**
   * A folder of files written one by one into place (a model component, a tokenizer): recognised
   * when it holds at least one of {@code anyOf} and nothing but regular files whose names {@code
   * allowed} accepts.
   */
  static OutputKind filesFolder(String description, Set<String> anyOf, Predicate<String> allowed) {
    return new OutputKind() {
      @Override
      public String description() {
        return description;
      }

      @Override
      public boolean recognises(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return false;
        boolean marked = false;
        try (Stream<Path> s = Files.list(dir)) {
          for (Path p : (Iterable<Path>) s::iterator) {
            String n = p.getFileName().toString();
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || !allowed.test(n)) return false;
            marked |= anyOf.contains(n);
          }
        }
        return marked;
      }
    };
  }

  /** A plain text file that belongs to a folder this process already recognised (merges.txt). */
  static OutputKind textFile(String description) {
    return new OutputKind() {
      @Override
      public String description() {
        return description;
      }

      @Override
      public boolean recognises(Path existing) throws IOException {
        return Files.isRegularFile(existing, LinkOption.NOFOLLOW_LINKS) && KindSupport.isText(existing);
      }
    };
  }
}

/** The checks behind {@link OutputKind}'s factories. */
final class KindSupport {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** JSON files larger than this are not opened to be recognised. */
  private static final long MAX_JSON = 64L << 20;

  private KindSupport() {}

  static JsonNode readJsonObject(Path p) {
    try {
      if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.size(p) > MAX_JSON) return null;
      JsonNode n = JSON.readTree(Files.readAllBytes(p));
      return n != null && n.isObject() ? n : null;
    } catch (IOException e) {
      return null;
    }
  }

  static boolean isSafetensors(Path p) {
    return safetensorsHeader(p) != null;
  }

  /** The header's __metadata__ object of a well-formed safetensors file (an empty object if none); null otherwise. */
  static JsonNode safetensorsMetadata(Path p) {
    JsonNode header = safetensorsHeader(p);
    if (header == null) return null;
    JsonNode meta = header.get("__metadata__");
    return meta != null && meta.isObject() ? meta : JSON.createObjectNode();
  }

  private static JsonNode safetensorsHeader(Path p) {
    if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) return null;
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) return null;
      ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      while (b.hasRemaining() && ch.read(b) >= 0) {}
      long n = b.flip().getLong();
      if (n < 2 || n > Math.min(size - 8, 100L << 20)) return null;
      ByteBuffer h = ByteBuffer.allocate((int) n);
      while (h.hasRemaining() && ch.read(h) >= 0) {}
      JsonNode header = JSON.readTree(new String(h.array(), StandardCharsets.UTF_8));
      return header != null && header.isObject() ? header : null;
    } catch (IOException e) {
      return null;
    }
  }

  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

  static boolean isPng(Path p) {
    if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) return false;
    try (InputStream in = Files.newInputStream(p)) {
      return Arrays.equals(in.readNBytes(8), PNG_SIGNATURE);
    } catch (IOException e) {
      return false;
    }
  }

  /** The value of the PNG's {@code Software} text chunk, or "" (only the chunks before the image data are read). */
  static String pngSoftware(Path p) {
    try (InputStream in = Files.newInputStream(p)) {
      return Png.software(in);
    } catch (IOException e) {
      return "";
    }
  }

  static boolean isText(Path p) {
    try (InputStream in = Files.newInputStream(p)) {
      byte[] head = in.readNBytes(4096);
      for (byte b : head) if (b == 0) return false;
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
