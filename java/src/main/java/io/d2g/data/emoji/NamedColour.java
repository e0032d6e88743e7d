package io.d2g.data.emoji;

import java.util.List;
import java.util.Locale;

/** The colours scene captions name, with the sRGB value drawn for each. */
public enum NamedColour {
  RED(220, 30, 30),
  ORANGE(250, 140, 20),
  YELLOW(250, 220, 30),
  GREEN(40, 170, 60),
  BLUE(30, 90, 230),
  PURPLE(140, 50, 200),
  PINK(250, 130, 190),
  BROWN(120, 70, 30),
  BLACK(15, 15, 15),
  GRAY(128, 128, 128),
  WHITE(255, 255, 255);

  /** Colours an object may be tinted with ("a red car"). */
  public static final List<NamedColour> TINTS = List.of(RED, ORANGE, YELLOW, GREEN, BLUE, PURPLE, PINK, BROWN);
  /** Flat and gradient background colours other than white. */
  public static final List<NamedColour> BACKGROUNDS = List.of(RED, ORANGE, YELLOW, GREEN, BLUE, PURPLE, PINK, BROWN,
      BLACK, GRAY);

  public final int r, g, b;

  NamedColour(int r, int g, int b) {
    this.r = r;
    this.g = g;
    this.b = b;
  }

  /** The word used in captions. */
  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The named colour nearest to an sRGB value (Euclidean distance), for checking what was drawn. */
  public static NamedColour nearest(double r, double g, double b) {
    NamedColour best = WHITE;
    double bd = Double.MAX_VALUE;
    for (NamedColour c : values()) {
      double d = (c.r - r) * (c.r - r) + (c.g - g) * (c.g - g) + (c.b - b) * (c.b - b);
      if (d < bd) {
        bd = d;
        best = c;
      }
    }
    return best;
  }
}
