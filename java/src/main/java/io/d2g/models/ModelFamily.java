package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.nn.NativeModule;
import java.util.function.Function;

/**
 * A model family as a loader sees it: its reference class name and how to create a module of it
 * from a config.json ({@code io.d2g.hub.DiffusersFolder#load(java.nio.file.Path, ModelFamily)}).
 * Each model class has one: {@link UNet2DConditionModel#FAMILY}, {@link AutoencoderKL#FAMILY},
 * {@link ClipTextModel#FAMILY}.
 */
public record ModelFamily<T extends NativeModule & DiffusersModel>(String className, Function<JsonNode, T> create) {
  /** A module of this family from a config.json (parsed and checked first). */
  public T create(JsonNode configJson) {
    return create.apply(configJson);
  }
}
