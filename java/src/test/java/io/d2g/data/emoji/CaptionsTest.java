package io.d2g.data.emoji;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.data.npm.Integrity;
import io.d2g.data.npm.IntegrityException;
import org.junit.jupiter.api.Test;

class CaptionsTest {
  @Test
  void singleCaptionIsLabelAndStyle() {
    assertEquals("cat, twemoji style", Captions.single("cat", EmojiStyle.TWEMOJI));
    assertEquals("red apple, fluent 3d style", Captions.single("red apple", EmojiStyle.FLUENT_3D));
  }

  @Test
  void objectPhrasesGetArticlesColoursAndFlags() {
    assertEquals("a cat", Captions.objectPhrase("cat", null));
    assertEquals("a red car", Captions.objectPhrase("car", "red"));
    assertEquals("an apple", Captions.objectPhrase("apple", null));
    assertEquals("an orange car", Captions.objectPhrase("car", "orange"));
    assertEquals("a unicorn", Captions.objectPhrase("unicorn", null));
    assertEquals("sparkles", Captions.objectPhrase("sparkles", null));
    assertEquals("a bus", Captions.objectPhrase("bus", null));
    assertEquals("a flag of Japan", Captions.objectPhrase("flag: Japan", null));
    assertEquals("the cat", Captions.definite("cat"));
  }

  @Test
  void labelsNamingAColourAreNeverTinted() {
    assertTrue(SceneComposer.namesColour("green heart"));
    assertTrue(SceneComposer.namesColour("white question mark"));
    assertFalse(SceneComposer.namesColour("greenhouse"));
    assertFalse(SceneComposer.namesColour("cat"));
  }

  @Test
  void integrityChecksTheHash(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    var f = dir.resolve("x.tgz");
    java.nio.file.Files.writeString(f, "hello");
    String sri = Integrity.of(f, "sha512");
    assertTrue(sri.startsWith("sha512-"));
    Integrity.verify(f, sri, "x");
    Integrity.verify(f, "sha1-bogus " + sri, "x"); // the strongest of several is used
    java.nio.file.Files.writeString(f, "hellO");
    IntegrityException e = assertThrows(IntegrityException.class, () -> Integrity.verify(f, sri, "x@1"));
    assertTrue(e.getMessage().contains("x@1") && e.getMessage().contains("delete"), e.getMessage());
    assertThrows(IntegrityException.class, () -> Integrity.verify(f, null, "x@1"));
  }
}
