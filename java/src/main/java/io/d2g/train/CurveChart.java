package io.d2g.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The one place XChart is used by the training logs: kept apart so that {@link TrainingLog} loads (and
 * logs) where XChart's jar is absent, as on a slimmed GPU machine.
 */
final class CurveChart {
  private CurveChart() {}

  /** Lines of (x, y) points, one per series name, as PNG bytes (800 × 450). */
  static byte[] png(String title, String xAxis, Map<String, double[][]> series, boolean logY) throws IOException {
    XYChart chart = new XYChartBuilder().width(800).height(450).title(title).xAxisTitle(xAxis).build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE).setMarkerSize(0);
    for (Map.Entry<String, double[][]> e : series.entrySet()) {
      List<Double> x = new ArrayList<>(), y = new ArrayList<>();
      for (double[] p : e.getValue()) {
        x.add(p[0]);
        y.add(p[1]);
      }
      chart.addSeries(e.getKey(), x, y);
    }
    chart.getStyler().setYAxisLogarithmic(logY);
    return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
  }
}
