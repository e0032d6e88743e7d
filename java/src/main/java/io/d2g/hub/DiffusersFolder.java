package io.d2g.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextModel;
import io.d2g.models.DiffusersModel;
import io.d2g.models.ModelFamily;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.WeakHashMap;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * A model folder in the diffusers layout, as {@code save_pretrained} writes it and as Stable
 * Diffusion checkpoints are published:
 *
 * <pre>
 * model_index.json                      {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"], ...}
 * unet/config.json + diffusion_pytorch_model.safetensors
 * vae/config.json + diffusion_pytorch_model.safetensors
 * text_encoder/config.json + model.safetensors           (transformers)
 * tokenizer/vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json)
 * </pre>
 *
 * <p>Loading is generic over model families: {@link #load(Path, ModelFamily)} builds a module from a
 * component's config.json with the given family (e.g. {@code ClipTextModel.FAMILY}) and loads its
 * weights strictly: missing keys, unexpected keys and shape mismatches are reported together in
 * one error, and nothing is loaded then. Weights come from {@code <name>.safetensors}, from a
 * variant such as {@code <name>.fp16.safetensors} (when asked for, or when it is the only file), or
 * from shards listed in {@code <name>.safetensors.index.json}. Pickle-only folders ({@code .bin},
 * {@code .ckpt}) are refused with a message on converting them.
 *
 * <p>Saving ({@link #save(Path, DiffusersModel)}, {@link #writeModelIndex}) writes the same layout,
 * so that diffusers and transformers load what we save. A module loaded from a folder remembers its
 * config.json, which is written back unchanged; a module built here gets one from its typed config.
 */
public final class DiffusersFolder {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  /** The weights file names of diffusers models and of transformers models. */
  private static final List<String> WEIGHT_NAMES = List.of("diffusion_pytorch_model", "model");
  private static final List<String> PICKLE_SUFFIXES = List.of(".bin", ".ckpt", ".pt", ".pth", ".pkl");
  /** The config.json a module was created from, written back when it is saved. */
  private static final Map<NativeModule, ObjectNode> ORIGINAL_CONFIGS = Collections.synchronizedMap(new WeakHashMap<>());

  /**
   * Options for loading a component. {@code variant}: e.g. "fp16" for {@code *.fp16.safetensors}
   * (null: the plain file, or the only variant there is). {@code device}/{@code dtype}: where the
   * module is put before the weights are copied in (null: CPU, f32). {@code adaptKeys}: renames
   * checkpoint keys before loading (e.g. {@code AutoencoderKL::renameLegacyKeys}; null: none).
   */
  public record LoadOptions(String variant, boolean strict, Device device, DType dtype,
      UnaryOperator<Map<String, Tensor>> adaptKeys) {
    public static final LoadOptions DEFAULT = new LoadOptions(null, true, null, null, null);

    public LoadOptions withVariant(String v) {
      return new LoadOptions(v, strict, device, dtype, adaptKeys);
    }

    public LoadOptions on(Device d, DType t) {
      return new LoadOptions(variant, strict, d, t, adaptKeys);
    }

    public LoadOptions withAdaptKeys(UnaryOperator<Map<String, Tensor>> a) {
      return new LoadOptions(variant, strict, device, dtype, a);
    }

    public LoadOptions nonStrict() {
      return new LoadOptions(variant, false, device, dtype, adaptKeys);
    }
  }

  private final Path root;
  private final ObjectNode modelIndex;

  private DiffusersFolder(Path root, ObjectNode modelIndex) {
    this.root = root;
    this.modelIndex = modelIndex;
  }

  /** Opens a pipeline folder: reads and checks its model_index.json. */
  public static DiffusersFolder open(Path root) {
    if (Files.isRegularFile(root)) {
      String n = root.getFileName().toString().toLowerCase(Locale.ROOT);
      throw new CheckpointException(root + " is a single file, not a diffusers folder"
          + (n.endsWith(".safetensors") || n.endsWith(".ckpt")
              ? " (an original Stable Diffusion checkpoint?). Convert it once with diffusers: "
                  + "StableDiffusionPipeline.from_single_file(path).save_pretrained(folder)"
              : ""));
    }
    Path index = root.resolve("model_index.json");
    if (!Files.isRegularFile(index))
      throw new CheckpointException(root + " is not a diffusers pipeline folder: it has no model_index.json"
          + (Files.isRegularFile(root.resolve("config.json")) ? " (it looks like a single component: load it with "
              + "DiffusersFolder.load(componentDir, family))" : ""));
    JsonNode n = readJson(index);
    if (!n.isObject()) throw new CheckpointException(index + " must be a JSON object");
    return new DiffusersFolder(root, (ObjectNode) n);
  }

  public Path root() {
    return root;
  }

  /** The pipeline class named by model_index.json, e.g. "StableDiffusionPipeline" (null if absent). */
  public String pipelineClass() {
    JsonNode c = modelIndex.get("_class_name");
    return c != null && c.isTextual() ? c.textValue() : null;
  }

  /** Components present in model_index.json (name to [library, class]); entries of [null, null] are left out. */
  public Map<String, List<String>> components() {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = modelIndex.fields(); it.hasNext(); ) {
      var e = it.next();
      if (e.getKey().startsWith("_") || !e.getValue().isArray() || e.getValue().size() != 2) continue;
      JsonNode lib = e.getValue().get(0), cls = e.getValue().get(1);
      if (lib.isNull() || cls.isNull()) continue;
      out.put(e.getKey(), List.of(lib.asText(), cls.asText()));
    }
    return out;
  }

  /** A component's folder; a clear error if model_index.json does not list it or the folder is missing. */
  public Path componentDir(String name) {
    checkComponentName(name);
    if (!components().containsKey(name))
      throw new CheckpointException(root + "/model_index.json lists no component '" + name + "' (it has "
          + components().keySet() + ")");
    Path d = root.resolve(name);
    if (!Files.isDirectory(d)) throw new CheckpointException("component folder " + d + " is missing");
    return d;
  }

  /** Loads a component of this folder; see {@link #load(Path, ModelFamily, LoadOptions)}. */
  public <T extends NativeModule & DiffusersModel> T load(String component, ModelFamily<T> family, LoadOptions options) {
    return load(componentDir(component), family, options);
  }

  public <T extends NativeModule & DiffusersModel> T load(String component, ModelFamily<T> family) {
    return load(component, family, LoadOptions.DEFAULT);
  }

  /** The text encoder ("text_encoder"), in f32 on the CPU. */
  public ClipTextModel textEncoder() {
    return load("text_encoder", ClipTextModel.FAMILY);
  }

  /** The tokenizer ("tokenizer"). */
  public ClipTokenizer tokenizer() {
    return ClipTokenizer.load(componentDir("tokenizer"));
  }

  // ---- components --------------------------------------------------------------------------------

  /** A component's config.json. */
  public static ObjectNode configJson(Path componentDir) {
    Path f = componentDir.resolve("config.json");
    if (!Files.isRegularFile(f)) throw new CheckpointException("component folder " + componentDir + " has no config.json");
    JsonNode n = readJson(f);
    if (!n.isObject()) throw new CheckpointException(f + " must be a JSON object");
    return (ObjectNode) n;
  }

  /** {@link #load(Path, ModelFamily, LoadOptions)} with the default options (strict, CPU, f32). */
  public static <T extends NativeModule & DiffusersModel> T load(Path componentDir, ModelFamily<T> family) {
    return load(componentDir, family, LoadOptions.DEFAULT);
  }

  /**
   * Builds a module of {@code family} (e.g. {@link ClipTextModel#FAMILY}) from {@code
   * componentDir/config.json}, moves it to the options' device and dtype, and loads its weights
   * (strictly unless the options say otherwise). The module is in evaluation mode. On any error
   * nothing leaks and the message names the files.
   */
  public static <T extends NativeModule & DiffusersModel> T load(Path componentDir, ModelFamily<T> family,
      LoadOptions options) {
    ObjectNode json = configJson(componentDir);
    List<Path> files = weightFiles(componentDir, options.variant());
    T module;
    try {
      // A strict load fills every parameter: skip the random initialisation it would overwrite.
      module = options.strict() ? NativeModule.withoutInit(() -> family.create(json)) : family.create(json);
    } catch (io.d2g.InvalidArgumentException e) {
      throw new CheckpointException(componentDir.resolve("config.json") + " does not describe a usable model: "
          + e.getMessage(), e);
    }
    List<SafetensorsFile> open = new ArrayList<>();
    Map<String, Tensor> state = new LinkedHashMap<>();
    try {
      if (options.device() != null || options.dtype() != null)
        module.to(options.device() != null ? options.device() : Device.CPU, options.dtype() != null ? options.dtype() : DType.F32);
      readWeights(componentDir, files, open, state);
      Map<String, Tensor> adapted = options.adaptKeys() != null ? options.adaptKeys().apply(state) : state;
      try {
        module.loadState(adapted, options.strict());
      } catch (io.d2g.InvalidArgumentException e) {
        throw new CheckpointException("cannot load " + describe(files) + " into a " + module.kind() + ": " + e.getMessage(), e);
      }
      module.eval();
      ORIGINAL_CONFIGS.put(module, json.deepCopy());
      return module;
    } catch (RuntimeException e) {
      module.close();
      throw e;
    } finally {
      state.values().forEach(Tensor::close);
      open.forEach(SafetensorsFile::close);
    }
  }

  private static String describe(List<Path> files) {
    return files.size() == 1 ? files.get(0).toString() : files.size() + " shards in " + files.get(0).getParent();
  }

  /**
   * The safetensors files holding a component's weights: the single file or every shard of the
   * index, for the variant (e.g. "fp16") or, with variant null, the plain file (or the only variant
   * when there is no plain file).
   */
  public static List<Path> weightFiles(Path componentDir, String variant) {
    if (variant != null && !variant.matches("[A-Za-z0-9_-]{1,32}"))
      throw new CheckpointException("a weights variant is a short name of letters, digits, '_' and '-' (like fp16), "
          + "not '" + variant + "'");
    if (!Files.isDirectory(componentDir)) throw new CheckpointException("component folder " + componentDir + " does not exist");
    for (String base : WEIGHT_NAMES) {
      String single = variant == null ? base + ".safetensors" : base + "." + variant + ".safetensors";
      String index = variant == null ? base + ".safetensors.index.json" : base + ".safetensors.index." + variant + ".json";
      if (Files.isRegularFile(componentDir.resolve(single))) return List.of(componentDir.resolve(single));
      if (Files.isRegularFile(componentDir.resolve(index))) return shards(componentDir.resolve(index));
    }
    Set<String> names = listNames(componentDir);
    if (variant == null) {
      // no plain weights: take the one variant there is (e.g. only *.fp16.safetensors was published)
      List<String> variants = new ArrayList<>();
      for (String n : names)
        for (String base : WEIGHT_NAMES)
          if (n.startsWith(base + ".") && n.endsWith(".safetensors") && n.split("\\.").length == 3)
            variants.add(n.substring(base.length() + 1, n.length() - ".safetensors".length()));
      if (variants.size() == 1) return weightFiles(componentDir, variants.get(0));
      if (variants.size() > 1)
        throw new CheckpointException("component folder " + componentDir + " has no plain weights but several variants "
            + variants + "; choose one with LoadOptions.withVariant");
    }
    boolean pickle = names.stream().anyMatch(n -> PICKLE_SUFFIXES.stream().anyMatch(n.toLowerCase(Locale.ROOT)::endsWith));
    if (pickle)
      throw new CheckpointException("component folder " + componentDir + " has only pickle weights " + names
          + ". Pickle files can run arbitrary code when loaded and are never read here; convert the folder once in "
          + "Python: Pipeline.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)");
    throw new CheckpointException("component folder " + componentDir + " has no "
        + (variant == null ? "" : "'" + variant + "' variant of its ") + "weights (looked for "
        + String.join(", ", WEIGHT_NAMES.stream().map(b -> b + (variant == null ? "" : "." + variant) + ".safetensors").toList())
        + " and their .index.json; found " + names + ")");
  }

  private static List<Path> shards(Path index) {
    JsonNode n = readJson(index);
    JsonNode map = n.get("weight_map");
    if (map == null || !map.isObject())
      throw new CheckpointException(index + " has no \"weight_map\" object");
    LinkedHashSet<String> files = new LinkedHashSet<>();
    map.fields().forEachRemaining(e -> files.add(e.getValue().asText()));
    List<Path> out = new ArrayList<>();
    for (String f : files) {
      // a plain file name beside the index: no separators, no "..", nothing a path cannot hold
      if (!f.matches("[^/\\\\\\x00-\\x1f]{1,255}") || f.equals("..") || f.equals(".") || !f.endsWith(".safetensors"))
        throw new CheckpointException(index + " names a shard '" + printable(f) + "' that is not a .safetensors file "
            + "beside it");
      Path p = index.resolveSibling(f).normalize();
      if (!Files.isRegularFile(p)) throw new CheckpointException(index + " names a shard " + p + " that is missing");
      out.add(p);
    }
    return out;
  }

  private static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    return b.toString();
  }

  private static void readWeights(Path dir, List<Path> files, List<SafetensorsFile> open, Map<String, Tensor> state) {
    for (Path p : files) {
      SafetensorsFile f = Safetensors.open(p);
      open.add(f);
      for (String name : f.names()) {
        if (state.containsKey(name))
          throw new CheckpointException("tensor '" + name + "' appears in more than one shard of " + dir + " (again in " + p + ")");
        state.put(name, f.tensor(name));
      }
    }
  }

  private static Set<String> listNames(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
    } catch (IOException e) {
      throw new CheckpointException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  private static JsonNode readJson(Path f) {
    try {
      return JSON.readTree(Files.readString(f));
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + f + ": " + e.getMessage(), e);
    }
  }

  // ---- saving ------------------------------------------------------------------------------------

  /**
   * A model component folder as an output: recognised when it holds config.json and nothing but
   * configs and safetensors weights.
   */
  public static final OutputKind COMPONENT = OutputKind.filesFolder("model component folder",
      Set.of("config.json"), n -> n.equals("config.json") || n.equals("generation_config.json")
          || n.endsWith(".safetensors") || n.endsWith(".safetensors.index.json"));

  /** A pipeline folder as an output: recognised by its model_index.json. */
  public static final OutputKind PIPELINE = new OutputKind() {
    @Override
    public String description() {
      return "diffusers pipeline folder";
    }

    @Override
    public boolean recognises(Path dir) throws IOException {
      return OutputKind.jsonFile("model_index.json").recognises(dir.resolve("model_index.json"));
    }
  };

  private static final OutputKind CONFIG_JSON = OutputKind.jsonFile("JSON config");

  /** Saves a model as a component folder: config.json and its weights file, in the module's dtype. */
  public static void save(Path componentDir, DiffusersModel model) {
    save(componentDir, model, null);
  }

  /**
   * Saves a model as a component folder: config.json and {@code <weights>.safetensors}, or {@code
   * <weights>.<variant>.safetensors} when a variant (e.g. "fp16") is given. Tensors are written in
   * the module's dtype, from any device. The folder must be new, empty or a component folder
   * ({@link #COMPONENT}); each file is written atomically and replaces only a file of its own kind,
   * so anything else raises an {@link io.d2g.io.OutputException} and is left as it is.
   */
  public static void save(Path componentDir, DiffusersModel model, String variant) {
    if (!(model instanceof NativeModule module))
      throw new CheckpointException("only native modules can be saved, not " + model.getClass().getName());
    if (variant != null && !variant.matches("[A-Za-z0-9_-]{1,32}"))
      throw new CheckpointException("a weights variant is a short name of letters, digits, '_' and '-' (like fp16), "
          + "not '" + variant + "'");
    ObjectNode json = configFor(model);
    Path dir = Outputs.prepareFolder(componentDir, COMPONENT, false);
    Map<String, Tensor> state = module.state();
    try {
      String file = model.weightsName() + (variant == null ? "" : "." + variant) + ".safetensors";
      Safetensors.write(dir.resolve(file), state, Map.of("format", "pt"));
    } finally {
      state.values().forEach(Tensor::close);
    }
    Outputs.writeJson(dir.resolve("config.json"), CONFIG_JSON, false, json);
  }

  /** The config.json to write: the one the module was loaded from, else its config's, with the class keys. */
  private static ObjectNode configFor(DiffusersModel model) {
    ObjectNode original = ORIGINAL_CONFIGS.get((NativeModule) model);
    ObjectNode json = original != null ? original.deepCopy() : model.configJson();
    if (model.library().equals("diffusers")) {
      if (!json.has("_class_name")) json.put("_class_name", model.className());
      if (!json.has("_diffusers_version")) json.put("_diffusers_version", "0.30.0");
    } else {
      if (!json.has("architectures")) json.putArray("architectures").add(model.className());
    }
    return json;
  }

  /**
   * Writes {@code root/model_index.json}: the pipeline class and each component's [library, class]
   * (e.g. "unet" to ["diffusers", "UNet2DConditionModel"]).
   */
  public static void writeModelIndex(Path root, String pipelineClass, Map<String, List<String>> components) {
    ObjectNode json = JSON.createObjectNode();
    json.put("_class_name", pipelineClass);
    json.put("_diffusers_version", "0.30.0");
    new java.util.TreeMap<>(components).forEach((name, lc) -> {
      if (lc.size() != 2) throw new CheckpointException("component '" + name + "' needs [library, class], not " + lc);
      json.putArray(name).add(lc.get(0)).add(lc.get(1));
    });
    Path dir = Outputs.prepareFolder(root, PIPELINE, false);
    Outputs.writeJson(dir.resolve("model_index.json"), CONFIG_JSON, false, json);
  }

  /**
   * Saves a Stable Diffusion pipeline folder: each module under its component name (e.g. "unet",
   * "vae", "text_encoder"), the tokenizer (may be null) under "tokenizer", and model_index.json
   * naming them all, plus {@code extraComponents} written by the caller (e.g. "scheduler" to
   * ["diffusers", "EulerDiscreteScheduler"]). The folder must be new, empty or a pipeline folder
   * ({@link #PIPELINE}); its components follow {@link #save(Path, NativeModule, String)}.
   */
  public static void savePipeline(Path root, String pipelineClass, Map<String, ? extends DiffusersModel> modules,
      ClipTokenizer tokenizer, Map<String, List<String>> extraComponents) {
    for (String name : modules.keySet()) checkComponentName(name);
    for (String name : extraComponents.keySet()) checkComponentName(name);
    Map<String, List<String>> index = new LinkedHashMap<>(extraComponents);
    modules.forEach((name, m) -> index.put(name, List.of(m.library(), m.className())));
    if (tokenizer != null) index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
    // the index first: from then on the folder is recognisably a pipeline, also to a rerun after a failure
    writeModelIndex(root, pipelineClass, index);
    modules.forEach((name, m) -> save(root.resolve(name), m));
    if (tokenizer != null) tokenizer.save(root.resolve("tokenizer"));
  }

  /** A component name is one plain folder name: no separators, no "..", nothing a path cannot hold. */
  private static void checkComponentName(String name) {
    if (name == null || !name.matches("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}") || name.contains(".."))
      throw new CheckpointException("'" + (name == null ? null : printable(name)) + "' is not a usable component name "
          + "(letters, digits, '_', '.', '-'; one folder name)");
  }

  @Override
  public String toString() {
    return "DiffusersFolder(" + root + ", " + pipelineClass() + ", " + components().keySet() + ")";
  }
}
