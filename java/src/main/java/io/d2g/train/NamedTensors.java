package io.d2g.train;

import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/** Named tensor states (optimizer moments, averages) between the native side and Java maps. */
final class NamedTensors {
  private NamedTensors() {}

  /** The entries as tensors the caller owns, in order. */
  static Map<String, Tensor> adopt(Native.StateEntries entries) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < entries.names().size(); i++)
      out.put(entries.names().get(i), Access.tensor(entries.tensors().get(i)));
    return out;
  }

  /** Hands the map's names and tensor handles, in one order, to a native load. */
  static void pass(Map<String, Tensor> state, BiConsumer<List<String>, List<MemorySegment>> load) {
    List<String> names = new ArrayList<>(state.keySet());
    List<MemorySegment> handles = new ArrayList<>(names.size());
    for (String n : names) handles.add(Access.handle(state.get(n)));
    load.accept(names, handles);
  }
}
