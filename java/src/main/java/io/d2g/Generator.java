package io.d2g;

import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;

/**
 * A random number generator of one device, passed explicitly wherever randomness is drawn ({@link
 * Tensor#randn(Generator, DType, long...)}, sampling a VAE posterior, the pipelines): LibTorch's
 * Mersenne Twister on the CPU, its counter-based Philox generator on a CUDA device. Each request,
 * thread or data-parallel process draws from its own generator, so results do not depend on what
 * else runs; the process-wide default generators ({@link D2g#manualSeed}) serve only calls given no
 * generator.
 *
 * <p>{@link #fork(long)} derives independent generators deterministically from this one's seed
 * (stream {@code i} of a batch, rank {@code r} of a training run), whatever has been drawn before.
 * {@link #state()} and {@link #setState(byte[])} save and restore the exact position, for
 * checkpoints. Draws lock the generator, so threads may share one, but their draws then interleave
 * in no fixed order. Close it when done; a Cleaner frees forgotten ones.
 */
public final class Generator implements AutoCloseable {
  static {
    Access.setGenerators(g -> g.handle.get("generator is closed"));
  }

  private final NativeHandle handle;
  private final Device device;
  private volatile long seed;

  private Generator(Device device, long seed) {
    this.device = device;
    this.seed = seed;
    this.handle = NativeHandle.generator(this, Native.generatorCreate(device, seed));
  }

  /** A new generator for {@code device}, seeded. */
  public static Generator create(Device device, long seed) {
    if (device == null) throw new InvalidArgumentException("device is null");
    return new Generator(device, seed);
  }

  /** A new CPU generator, seeded. */
  public static Generator cpu(long seed) {
    return create(Device.CPU, seed);
  }

  public Device device() {
    return device;
  }

  /** The seed this generator was created with or last reseeded to. */
  public long seed() {
    return seed;
  }

  /** Restarts the stream from {@code seed}. */
  public Generator reseed(long seed) {
    Native.generatorSeed(handle.get("generator is closed"), seed);
    this.seed = seed;
    return this;
  }

  /**
   * A new, independent generator on the same device, seeded from {@link #seed()} and {@code stream}
   * by a fixed mixing function: the same seed and stream give the same generator, on any machine,
   * whatever this one has drawn.
   */
  public Generator fork(long stream) {
    return new Generator(device, mix(seed, stream));
  }

  /** The stream seed {@link #fork} uses: SplitMix64's finaliser over the seed and the stream number. */
  public static long mix(long seed, long stream) {
    long z = seed + 0x9E3779B97F4A7C15L * (stream + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The generator's exact position, as bytes (LibTorch's state format of this device's generator). */
  public byte[] state() {
    try (Tensor t = Access.tensor(Native.generatorGetState(handle.get("generator is closed")))) {
      return t.toByteArray();
    }
  }

  /** Restores a position {@link #state()} gave, from a generator of the same device type. */
  public Generator setState(byte[] state) {
    try (Tensor t = Tensor.of(state)) {
      Native.generatorSetState(handle.get("generator is closed"), Access.handle(t));
    }
    return this;
  }

  public boolean isClosed() {
    return handle.isClosed();
  }

  @Override
  public void close() {
    handle.close();
  }

  @Override
  public String toString() {
    return "Generator(" + device + ", seed " + seed + (isClosed() ? ", closed)" : ")");
  }
}
