package io.d2g.pairs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The pairs folder's format, version {@value #FORMAT}: what a reader needs to know and what a resumed
 * run must agree with.
 *
 * <pre>
 * manifest.json           the settings (below), and when every shard is written "complete": true and
 *                         "shards": [{"file", "first", "count", "sha256"}, ...]
 * prompts.jsonl           the prompt table, {"id": k, "prompt": "..."} per line (ids 0, 1, 2, ...)
 * shard-000000.safetensors  pairs [first, first + count) of the run: "latents" [count, C, H, W] (f16 or
 *                         f32, scaled as the UNet sees them), "pair" i64 [count] (the pair indices),
 *                         "prompt_id" i32 [count]; metadata "first", "count" and d2g_sha256 (the data's
 *                         SHA-256, checked on reading)
 * </pre>
 *
 * Settings: the teacher's identity (SHA-256 over its folder's files) and scheduler, sampler, steps,
 * guidance, seed, number of pairs, shard size, batch (GPU arithmetic depends on the batch, so a resumed
 * run keeps it), latent shape and dtype, the noise generator, and the prompt table's SHA-256. The noise z
 * of pair i is not stored: it is {@link PairNoise} of (seed, i), recomputed bit-exactly anywhere. Each
 * shard is written whole to a temporary file and renamed into place, so a shard that exists is complete.
 */
public final class PairManifest {
  public static final String FORMAT = "d2g-pairs/1";
  static final String MANIFEST = "manifest.json", PROMPTS = "prompts.jsonl";
  private static final Pattern SHARD = Pattern.compile("shard-\\d{6}\\.safetensors");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A pairs folder: recognised when it has a manifest and only the files named above. */
  public static final OutputKind FOLDER = OutputKind.filesFolder("teacher pairs folder", Set.of(MANIFEST),
      n -> n.equals(MANIFEST) || n.equals(PROMPTS) || SHARD.matcher(n).matches()
          || (n.startsWith(".") && (n.startsWith("." + MANIFEST) || n.startsWith("." + PROMPTS) || n.startsWith(".shard-"))));

  /** The manifest file: a JSON object of this format. */
  static final OutputKind MANIFEST_FILE = new OutputKind() {
    @Override
    public String description() {
      return "pairs manifest";
    }

    @Override
    public boolean recognises(Path existing) throws IOException {
      try {
        return FORMAT.equals(JSON.readTree(existing.toFile()).path("format").asText());
      } catch (IOException e) {
        return false;
      }
    }
  };

  /** The prompt table file (in a folder already recognised as a pairs folder). */
  static final OutputKind PROMPTS_FILE = OutputKind.textFile("pairs prompt table");

  /** Shard files of this format. */
  static final OutputKind SHARD_FILE = OutputKind.safetensorsWith("pairs shard", "format", FORMAT);

  private PairManifest() {}

  static String shardName(long k) {
    return String.format("shard-%06d.safetensors", k);
  }

  /** The keys of a manifest that are not settings: what a run adds as it goes. */
  private static final Set<String> PROGRESS = Set.of("complete", "shards", "teacher_path", "date");

  /**
   * The settings of {@code existing} that differ from {@code wanted}'s, as "key: was → now" lines
   * (empty when a run with {@code wanted} may continue the folder).
   */
  static List<String> differences(JsonNode existing, JsonNode wanted) {
    List<String> out = new ArrayList<>();
    Set<String> keys = new java.util.TreeSet<>();
    existing.fieldNames().forEachRemaining(keys::add);
    wanted.fieldNames().forEachRemaining(keys::add);
    for (String k : keys) {
      if (PROGRESS.contains(k)) continue;
      JsonNode a = existing.path(k), b = wanted.path(k);
      if (!a.toString().equals(b.toString())) out.add(k + ": " + (a.isMissingNode() ? "(none)" : a) + " → " + (b.isMissingNode() ? "(none)" : b));
    }
    return out;
  }

  static JsonNode read(Path file) {
    try {
      JsonNode n = JSON.readTree(file.toFile());
      if (!FORMAT.equals(n.path("format").asText()))
        throw new InvalidArgumentException(file + " is not a pairs manifest of format " + FORMAT);
      return n;
    } catch (IOException e) {
      throw new InvalidArgumentException("cannot read the pairs manifest " + file + ": " + e.getMessage());
    }
  }

  static void write(Path file, ObjectNode manifest) {
    Outputs.writeJson(file, MANIFEST_FILE, false, manifest);
  }

  /** The shard entries of a finished manifest, in order. */
  static List<JsonNode> shards(JsonNode manifest) {
    List<JsonNode> out = new ArrayList<>();
    for (Iterator<JsonNode> it = manifest.path("shards").elements(); it.hasNext(); ) out.add(it.next());
    return out;
  }

  static ArrayNode newArray() {
    return JSON.createArrayNode();
  }

  static ObjectNode newObject() {
    return JSON.createObjectNode();
  }

  /**
   * A diffusers folder's identity: SHA-256 over its files in path order, each as its relative path,
   * its size and its own SHA-256 (so a renamed or changed weight file changes it; the folder's own
   * location does not).
   */
  public static String folderSha256(Path folder) {
    try (Stream<Path> walk = Files.walk(folder)) {
      List<Path> files = walk.filter(Files::isRegularFile).sorted().toList();
      if (files.isEmpty()) throw new InvalidArgumentException(folder + " holds no files");
      MessageDigest all = sha256();
      byte[] buf = new byte[1 << 20];
      for (Path f : files) {
        MessageDigest one = sha256();
        try (InputStream in = new DigestInputStream(Files.newInputStream(f), one)) {
          while (in.read(buf) >= 0) {
            // reading feeds the digest
          }
        }
        all.update((folder.relativize(f).toString().replace('\\', '/') + "\0" + Files.size(f) + "\0"
            + HexFormat.of().formatHex(one.digest()) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      return HexFormat.of().formatHex(all.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the teacher folder " + folder, e);
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
