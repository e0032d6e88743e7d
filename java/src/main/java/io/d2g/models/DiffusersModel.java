package io.d2g.models;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** A model that is saved as a component folder of the diffusers layout (config.json + safetensors weights). */
public interface DiffusersModel {
  /** The library whose class it is: "diffusers" or "transformers". */
  String library();

  /** The reference class name, as model_index.json and config.json name it. */
  String className();

  /** The weights file's base name: "model" for transformers' classes, "diffusion_pytorch_model" otherwise. */
  default String weightsName() {
    return library().equals("transformers") ? "model" : "diffusion_pytorch_model";
  }

  /** The config.json of this model (without the class and version keys diffusers adds). */
  ObjectNode configJson();
}
