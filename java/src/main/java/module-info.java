/**
 * Diffusion2GAN for the JVM: tensors and networks of the Stable Diffusion family in LibTorch, driven
 * from Java through a C API (Panama). The public packages:
 *
 * <ul>
 *   <li>{@code io.d2g}: tensors, devices, dtypes, random generators, the library's settings and errors;
 *   <li>{@code io.d2g.nn}: native modules (parameters, state, devices);
 *   <li>{@code io.d2g.models}: the model families (UNet2DConditionModel, AutoencoderKL, ClipTextModel) and
 *       their typed configs;
 *   <li>{@code io.d2g.diffusion}: noise schedules and prediction types;
 *   <li>{@code io.d2g.eval}: evaluation metrics in a judge's embedding space (Fréchet distance, text–image
 *       score, retrieval, fidelity, diversity) with bootstrap intervals;
 *   <li>{@code io.d2g.hub}: diffusers folders, safetensors files, the CLIP tokenizer;
 *   <li>{@code io.d2g.pipelines}: one-step and multi-step text-to-image;
 *   <li>{@code io.d2g.pairs}: the teacher's ODE pairs (noise, prompt, latent) for distillation: prompt tables,
 *       counter-based noise, sharded writing and reading;
 *   <li>{@code io.d2g.schedulers}: samplers, one per file, as diffusers names them (DDIM, Euler, Heun,
 *       DPM-Solver++);
 *   <li>{@code io.d2g.train}: optimizers, parameter averages, learning-rate schedules;
 *   <li>{@code io.d2g.data}, {@code io.d2g.data.emoji}, {@code io.d2g.data.npm}: datasets;
 *   <li>{@code io.d2g.io}: writing outputs safely; {@code io.d2g.cli}: the command line.
 * </ul>
 *
 * {@code io.d2g.internal} (the glue to the native library) and the generated bindings are not exported.
 */
module io.d2g {
  requires io.d2g.bindings;
  requires java.desktop;
  requires java.logging;
  requires org.slf4j;
  requires info.picocli;
  requires com.fasterxml.jackson.databind;
  requires org.apache.commons.compress;
  requires com.github.weisj.jsvg;
  requires me.tongfei.progressbar;
  requires com.twelvemonkeys.imageio.webp;
  requires ejml.ddense;
  requires ejml.core;
  requires org.knowm.xchart;

  exports io.d2g;
  exports io.d2g.cli;
  exports io.d2g.data;
  exports io.d2g.data.emoji;
  exports io.d2g.data.npm;
  exports io.d2g.diffusion;
  exports io.d2g.eval;
  exports io.d2g.hub;
  exports io.d2g.io;
  exports io.d2g.models;
  exports io.d2g.nn;
  exports io.d2g.pairs;
  exports io.d2g.pipelines;
  exports io.d2g.schedulers;
  exports io.d2g.train;

  // picocli fills the commands' fields, Jackson reads and writes the dataset's records, by reflection
  opens io.d2g.cli to info.picocli;
  opens io.d2g.data.emoji to com.fasterxml.jackson.databind;
}
