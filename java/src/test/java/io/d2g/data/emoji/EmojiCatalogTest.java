package io.d2g.data.emoji;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

class EmojiCatalogTest {
  private final EmojiCatalog cat = EmojiCatalog.parse(FakeNpm.emojibase());

  @Test
  void keepsRealConceptsInCldrOrderAndDropsIndicatorsAndComponents() {
    List<String> labels = cat.concepts().stream().map(Concept::label).toList();
    assertEquals(List.of("grinning face", "waving hand", "cat", "dog", "automobile", "black small square", "keycap: #"),
        labels);
    for (int i = 0; i < cat.concepts().size(); i++) assertEquals(i, cat.concepts().get(i).id());
  }

  @Test
  void mapsGroupsSubgroupsTagsAndSkins() {
    Concept wave = cat.find("1f44b");
    assertEquals("people-body", wave.group());
    assertEquals("hand-fingers-open", wave.subgroup());
    assertEquals(List.of("hand", "wave"), wave.tags());
    assertEquals(2, wave.skins().size());
    assertEquals("light skin tone", wave.skins().get(0).tone());
    assertEquals("waving hand: dark skin tone", wave.skins().get(1).label());
    assertEquals("1F44B-1F3FF", wave.skins().get(1).hexcode());
  }

  @Test
  void codepointKeysIgnoreFe0fCaseAndPadding() {
    assertEquals("0023-20E3", EmojiCatalog.key("0023-fe0f-20e3"));
    assertEquals("0023-20E3", EmojiCatalog.key("23-20E3"));
    assertEquals("keycap: #", cat.find("0023-FE0F-20E3").label());
    assertNull(cat.find("1F1E6"), "regional indicators are not concepts");
  }

  @Test
  void alternativeNamesComeFromUnicodeNamesAndShortcodes() {
    assertTrue(cat.altNames("1F697").containsAll(List.of("AUTOMOBILE", "red_car", "car")));
    assertEquals("flag-japan", EmojiCatalog.slug("flag: Japan"));
    assertEquals("mans-shoe", EmojiCatalog.slug("man’s shoe"));
    assertEquals("pinata", EmojiCatalog.slug("piñata"));
  }
}
