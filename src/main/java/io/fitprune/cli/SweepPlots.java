package io.fitprune.cli;

import io.fitprune.flops.Scope;
import io.fitprune.io.AtomicFiles;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The sweep's two plots, drawn with XChart and written as PNG atomically. */
final class SweepPlots {
  static final String REDUCTION = "reduction-vs-budget.png", LAYERS = "pruned-per-layer.png";

  private SweepPlots() {}

  static void write(Path dir, Geometry g, List<Recipe> recipes, Scope scope) throws IOException {
    System.setProperty("java.awt.headless", "true");  // charts render off-screen, also on servers
    List<Recipe> sorted = recipes.stream().sorted(Comparator.comparingDouble(Recipe::budget)).toList();
    png(dir.resolve(REDUCTION), reduction(g, sorted, scope));
    png(dir.resolve(LAYERS), layers(g, sorted));
  }

  private static XYChart reduction(Geometry g, List<Recipe> rs, Scope scope) {
    XYChart c = new XYChartBuilder().width(800).height(600).title(g.name() + ": achieved reduction (fitted in "
        + scope.id() + " scope)").xAxisTitle("budget").yAxisTitle("reduction").build();
    double[] b = rs.stream().mapToDouble(Recipe::budget).toArray();
    c.addSeries("target", b, b).setMarker(SeriesMarkers.NONE);
    c.addSeries("paper scope", b, rs.stream().mapToDouble(r -> r.paper().reduction()).toArray());
    c.addSeries("full scope", b, rs.stream().mapToDouble(r -> r.full().reduction()).toArray());
    return c;
  }

  private static XYChart layers(Geometry g, List<Recipe> rs) {
    XYChart c = new XYChartBuilder().width(900).height(600).title(g.name() + ": visual tokens pruned after each layer")
        .xAxisTitle("layer").yAxisTitle("tokens pruned").build();
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    double[] x = new double[g.layers()];
    for (int l = 0; l < x.length; l++) x[l] = l;
    for (Recipe r : rs) {
      int[] p = r.prune();
      double[] y = new double[p.length];
      for (int l = 0; l < p.length; l++) y[l] = p[l];
      c.addSeries(String.format(Locale.ROOT, "budget %.2f", r.budget()), x, y);
    }
    return c;
  }

  /** Writes a chart as PNG, atomically. */
  static void png(Path file, XYChart chart) throws IOException {
    AtomicFiles.write(file, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
  }
}
