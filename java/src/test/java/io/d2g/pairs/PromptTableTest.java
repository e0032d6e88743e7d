package io.d2g.pairs;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.InvalidArgumentException;
import io.d2g.pipelines.TextToImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prompt tables: reading files as documented, stable ids, the seeded order, and bad files refused. */
class PromptTableTest {
  @TempDir Path tmp;

  @Test
  void readsTextAndJsonLinesDeduplicatedWithStableIds() throws IOException {
    Path txt = tmp.resolve("p.txt");
    Files.writeString(txt, "\uFEFFa red car, noto style\n\n  a cat, twemoji style  \r\n# a comment\na red car, noto style\nhot springs\n");
    PromptTable t = PromptTable.read(txt);
    assertEquals(List.of("a red car, noto style", "a cat, twemoji style", "hot springs"), t.prompts());
    Path jsonl = tmp.resolve("p.jsonl");
    Files.writeString(jsonl, "{\"prompt\": \"a red car, noto style\", \"seed\": 3}\n\n{\"prompt\": \"a cat, twemoji style\"}\n"
        + "{\"prompt\": \"hot springs\"}\n");
    PromptTable j = PromptTable.read(jsonl);
    assertEquals(t.prompts(), j.prompts());
    assertEquals(t.sha256(), j.sha256(), "the identity is the prompts', not the file's");
    assertNotEquals(t.sha256(), PromptTable.of(List.of("hot springs", "a cat, twemoji style")).sha256());

    Path back = tmp.resolve("table.jsonl");
    Files.writeString(back, t.toJsonLines());
    assertEquals(t.prompts(), PromptTable.fromJsonLines(back).prompts());
  }

  @Test
  void pairsCycleThroughTheTableInASeededOrder() {
    PromptTable t = PromptTable.of(List.of("a", "b", "c", "d", "e", "f", "g"));
    Set<Integer> firstRound = new HashSet<>();
    for (int i = 0; i < 7; i++) firstRound.add(t.promptOf(i, 9));
    assertEquals(7, firstRound.size(), "each prompt once per round");
    for (int i = 0; i < 20; i++) assertEquals(t.promptOf(i, 9), t.promptOf(i + 7, 9));
    boolean differs = false;
    for (int i = 0; i < 7; i++) differs |= t.promptOf(i, 9) != t.promptOf(i, 10);
    assertTrue(differs, "another seed, another order");
    assertEquals(t.promptOf(3, 9), PromptTable.of(List.of("a", "b", "c", "d", "e", "f", "g")).promptOf(3, 9));
    assertThrows(InvalidArgumentException.class, () -> t.promptOf(-1, 9));
  }

  @Test
  void badFilesAreRefusedWithTheirLine() throws IOException {
    Path bad = tmp.resolve("bad.txt");
    Files.write(bad, new byte[] {'o', 'k', '\n', 'a', ' ', (byte) 0xC3, (byte) 0x28, '\n'});
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> PromptTable.read(bad));
    assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("UTF-8"), e.getMessage());

    Path empty = tmp.resolve("empty.txt");
    Files.writeString(empty, "\n   \n# only a comment\n");
    assertThrows(InvalidArgumentException.class, () -> PromptTable.read(empty));

    Path longOne = tmp.resolve("long.txt");
    Files.writeString(longOne, "fine\n" + "x".repeat(TextToImage.MAX_PROMPT_CHARS + 1) + "\n", StandardCharsets.UTF_8);
    e = assertThrows(InvalidArgumentException.class, () -> PromptTable.read(longOne));
    assertTrue(e.getMessage().contains("prompt 1") && e.getMessage().contains("characters"), e.getMessage());

    Path json = tmp.resolve("bad.jsonl");
    Files.writeString(json, "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n");
    e = assertThrows(InvalidArgumentException.class, () -> PromptTable.read(json));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    assertThrows(InvalidArgumentException.class, () -> PromptTable.read(tmp.resolve("none.txt")));
  }
}
