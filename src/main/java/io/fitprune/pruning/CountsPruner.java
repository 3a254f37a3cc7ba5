package io.fitprune.pruning;

/** A pruner with per-layer counts ({@link LayerCounts}) and a rule choosing which rows survive. */
final class CountsPruner implements Pruner {
  /** The rows to keep, given the scores (null when not needed) and how many visual tokens go. */
  interface Rule {
    int[] keep(SequenceState s, float[] self, float[] cross, int drop);
  }

  private final LayerCounts counts;
  private final String name;
  private final boolean needsScores;
  private final Rule rule;
  private final NoTextPolicy noText; // null: the rule does not read cross

  CountsPruner(LayerCounts counts, String name, boolean needsScores, Rule rule) {
    this(counts, name, needsScores, rule, null);
  }

  CountsPruner(LayerCounts counts, String name, boolean needsScores, Rule rule, NoTextPolicy noText) {
    this.counts = counts;
    this.name = name;
    this.needsScores = needsScores;
    this.rule = rule;
    this.noText = noText;
  }

  /** Refuses a sequence with no text before its score pass runs, when the rule needs cross and the policy says so. */
  @Override
  public long count(SequenceState s) {
    if (s == null) throw new IllegalArgumentException("sequence state is null");
    int c = counts.at(s);
    if (c > 0 && noText == NoTextPolicy.REFUSE && s.text() == 0)
      throw NoTextPolicy.refusal("no text follows the image (text span 0)");
    return c;
  }

  @Override
  public boolean needsScores() {
    return needsScores;
  }

  @Override
  public int[] keep(SequenceState s, float[] self, float[] cross, long drop) {
    if (s == null) throw new IllegalArgumentException("sequence state is null");
    if (drop < 0 || drop > s.visual())
      throw new IllegalArgumentException("drop must be in [0, " + s.visual() + "] (alive visual tokens), got " + drop);
    if (needsScores) {
      requireScores("self", self, s.visual());
      requireScores("cross", cross, s.visual());
    }
    return rule.keep(s, self, cross, (int) drop);
  }

  private static void requireScores(String name, float[] scores, int visual) {
    if (scores == null) throw new IllegalArgumentException(name + " is null (the score pass's [visual] scores)");
    if (scores.length != visual)
      throw new IllegalArgumentException(name + ": expected [" + visual + "] (alive visual tokens), got [" + scores.length
          + "]");
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int layers() {
    return counts.prune().length;
  }
}
