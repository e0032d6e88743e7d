package io.d2g.data.emoji;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * One line of a dataset's {@code index.jsonl}: where an image's PNG bytes are (shard, offset,
 * length) and what it shows. Concept-level data (tags, group, subgroup, emoji) is in
 * {@code concepts.json}, joined on {@code concept}.
 */
@JsonPropertyOrder({"index", "shard", "offset", "length", "concept", "hexcode", "style", "label", "tone", "licence",
    "split", "source"})
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record EmojiRecord(int index, int shard, long offset, int length, int concept, String hexcode, String style,
    String label, String tone, String licence, String split, String source) {

  /** The single-emoji caption: {@code "<label>, <style> style"}. */
  @JsonIgnore
  public String caption() {
    return Captions.single(label, EmojiStyle.parse(style));
  }

  @JsonIgnore
  public EmojiStyle emojiStyle() {
    return EmojiStyle.parse(style);
  }

  @JsonIgnore
  public boolean isTrain() {
    return Splits.TRAIN.equals(split);
  }
}
