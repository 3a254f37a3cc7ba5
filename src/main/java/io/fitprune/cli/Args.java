package io.fitprune.cli;

import io.fitprune.fitting.AlphaSearch;
import java.util.Locale;

/** Parsing of list-valued arguments, with errors that name the option. */
final class Args {
  private Args() {}

  static int[] intList(String option, String text) {
    String[] parts = text.split(",", -1);
    int[] out = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Integer.parseInt(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + ": '" + parts[i].trim() + "' (item " + (i + 1) + ") is not an integer");
      }
    }
    return out;
  }

  static double budget(String option, double b) {
    if (!(b >= 0 && b < 1)) throw new IllegalArgumentException(option + " must be a fraction in [0, 1), got " + b);
    return b;
  }

  static double[] budgets(String option, String text) {
    String[] parts = text.split(",", -1);
    double[] out = new double[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Double.parseDouble(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + ": '" + parts[i].trim() + "' is not a number");
      }
      budget(option, out[i]);
      AlphaSearch.checkBudget(out[i]);
      for (int j = 0; j < i; j++)
        if (out[j] == out[i]) throw new IllegalArgumentException(option + ": budget " + out[i] + " is listed twice");
    }
    return out;
  }

  static String fraction(double x) {
    return String.format(Locale.ROOT, "%.4f", x);
  }

  /** Costs in readable units: GMAC for the paper scope, TFLOP for the full one. */
  static String amount(double x, boolean macs) {
    return macs ? String.format(Locale.ROOT, "%.2f GMAC", x / 1e9) : String.format(Locale.ROOT, "%.3f TFLOP", x / 1e12);
  }
}
