package io.d2g.data.emoji;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.data.DatasetException;
import io.d2g.fuzz.FuzzDirs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * A dataset folder as a user may point the tools at it, whatever its files hold: index.jsonl, a shard
 * and manifest.json (the builder's, or any bytes). Opening it and reading its records, concepts, pictures and a batch either works or fails
 * with a {@link DatasetException}; never another exception (an index past a shard's end, a negative
 * size) or a read outside the folder. Regression inputs: EmojiDatasetFuzzTestInputs.
 */
class EmojiDatasetFuzzTest {
  private static final Path DIR = FuzzDirs.create("d2g-fuzz-emoji-dataset");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CONCEPTS =
      "[{\"id\":0,\"hexcode\":\"1F600\",\"emoji\":\"x\",\"label\":\"grinning face\",\"tags\":[\"face\"],"
          + "\"group\":\"smileys\",\"subgroup\":\"face\",\"split\":\"train\"}]";

  private static int indexOf(byte[] data, int from) {
    for (int i = from; i < data.length; i++) if (data[i] == 0) return i;
    return -1;
  }

  /**
   * The input split at its first two zero bytes: index.jsonl, the shard's bytes and, when there is a
   * third part, manifest.json (else the builder's manifest: one shard, 8 px pictures).
   */
  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void openAndRead(byte[] data) throws IOException {
    Path dir = Files.createDirectories(DIR.resolve("dataset"));
    int first = indexOf(data, 0), second = first < 0 ? -1 : indexOf(data, first + 1);
    byte[] index = Arrays.copyOfRange(data, 0, first < 0 ? data.length : first);
    byte[] shard = first < 0 ? new byte[0] : Arrays.copyOfRange(data, first + 1, second < 0 ? data.length : second);
    byte[] manifest = second >= 0 ? Arrays.copyOfRange(data, second + 1, data.length) : JSON.writeValueAsBytes(
        JSON.createObjectNode().put("format", EmojiDatasetBuilder.FORMAT).put("formatVersion", 1).put("size", 8)
            .set("shards", JSON.createArrayNode().add(JSON.createObjectNode().put("file", "shard-000.bin"))));
    Files.write(dir.resolve("manifest.json"), manifest);
    Files.write(dir.resolve("index.jsonl"), index);
    Files.writeString(dir.resolve("concepts.json"), CONCEPTS, StandardCharsets.UTF_8);
    Files.write(dir.resolve("shard-000.bin"), shard);
    try (EmojiDataset ds = EmojiDataset.open(dir)) {
      List<EmojiRecord> records = ds.records();
      for (EmojiRecord r : records.subList(0, Math.min(records.size(), 8))) {
        try {
          ds.tags(r);
          r.caption();
        } catch (DatasetException expected) {
          // a record whose concept or style is unknown
        }
      }
      for (int i = 0; i < Math.min(records.size(), 4); i++) {
        try {
          ds.png(i);
          ds.image(i);
        } catch (DatasetException expected) {
          // a picture that is not one
        }
      }
      if (!records.isEmpty()) {
        try (Tensor t = ds.tensor(records.subList(0, 1), DType.U8, EmojiDataset.Layout.NHWC)) {
          t.shape();
        } catch (DatasetException expected) {
          // as above
        }
      }
    } catch (DatasetException expected) {
      // a clear error for a folder that is not a readable dataset
    } finally {
      FuzzDirs.empty(dir);
    }
  }
}
