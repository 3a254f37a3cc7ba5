package io.fitprune.flops;

import io.fitprune.model.Geometry;

/**
 * The per-layer cost model (docs/design.md, "FLOPs model"), in one scope.
 *
 * <p>A layer's cost splits into a part that depends only on the tokens entering it (QKV
 * projections and attention, which run before pruning) and a part that depends only on the
 * survivors (output projection and MLP, after pruning): {@code cost(nIn, nOut) = pre(nIn) +
 * post(nOut)}. Both parts are tabulated once for every visual count 0..V, so the fitter prices a
 * layer with two array reads. Every value is an integer below 2^53, so doubles hold them exactly.
 *
 * <p>A recipe {@code prune[l]} removes tokens after layer l's attention: layer l sees
 * {@code nIn} = survivors of layer l-1 (V at layer 0) and keeps {@code nOut = nIn - prune[l]}.
 */
public final class FlopsModel {
  private final Geometry g;
  private final Scope scope;
  private final int prefix, text;
  private final double[] pre, post;

  /** @param prefix prompt tokens before the image, @param text tokens after it (both ignored by the paper scope) */
  public FlopsModel(Geometry g, Scope scope, int prefix, int text) {
    if (prefix < 0) throw new IllegalArgumentException("prefix tokens must be >= 0, got " + prefix);
    if (text < 0) throw new IllegalArgumentException("text tokens must be >= 0, got " + text);
    this.g = g;
    this.scope = scope;
    this.prefix = prefix;
    this.text = text;
    int v = g.visualTokens();
    pre = new double[v + 1];
    post = new double[v + 1];
    for (int n = 0; n <= v; n++) {
      pre[n] = preCost(n);
      post[n] = postCost(n);
    }
  }

  /** The geometry's default prefix and text lengths. */
  public static FlopsModel of(Geometry g, Scope scope) {
    return new FlopsModel(g, scope, g.prefixTokens(), g.textTokens());
  }

  // D is the residual width and A = H*d the attention width; they differ in Gemma-style models,
  // where q maps D -> A and o maps A -> D.
  private double preCost(long nv) {
    double D = g.hidden(), A = g.attentionWidth();
    if (scope == Scope.PAPER) return 3 * nv * D * A + 2 * (double) nv * nv * A;
    double n = prefix + nv + text;
    double kvWidth = 2.0 * g.kvHeads() * g.headDim();
    double qkv = 2 * n * D * (A + kvWidth);
    double pairs = n * (n + 1) / 2;                       // causal: row i sees keys 0..i
    double attention = 4.0 * A * pairs;                   // QK^T and PV, 2 FLOPs per MAC each
    return qkv + attention;
  }

  private double postCost(long nv) {
    double D = g.hidden(), A = g.attentionWidth(), F = g.mlp();
    if (scope == Scope.PAPER) return nv * A * D + 3 * nv * D * F;
    double n = prefix + nv + text;
    return 2 * n * A * D + 6 * n * D * F;
  }

  public Geometry geometry() {
    return g;
  }

  public Scope scope() {
    return scope;
  }

  public int prefixTokens() {
    return prefix;
  }

  public int textTokens() {
    return text;
  }

  /** Cost of one layer with {@code nIn} visual tokens entering and {@code nOut} surviving. */
  public double layer(int nIn, int nOut) {
    if (nIn < 0 || nIn > g.visualTokens() || nOut < 0 || nOut > nIn)
      throw new IllegalArgumentException("layer needs 0 <= nOut <= nIn <= " + g.visualTokens() + ", got nIn="
          + nIn + " nOut=" + nOut);
    return pre[nIn] + post[nOut];
  }

  /** Tabulated before-pruning part, indexed by visual tokens entering (read-only by contract; no copy for speed). */
  public double[] preTable() {
    return pre;
  }

  /** Tabulated after-pruning part, indexed by visual tokens surviving. */
  public double[] postTable() {
    return post;
  }

  /** Cost of all layers with no pruning. */
  public double baseline() {
    int v = g.visualTokens();
    return g.layers() * (pre[v] + post[v]);
  }

  /**
   * Extra cost of the score pass at a layer that prunes with {@code nv} visual tokens alive:
   * each visual and text query row against the visual keys, per query head: one q.k product
   * recomputed (the exp is not counted). Full scope: FLOPs with the visual rows causal; paper
   * scope: multiply-accumulates over the full visual square plus the text rows.
   */
  public double scorePass(int nv) {
    double hd = (double) g.heads() * g.headDim();
    if (scope == Scope.PAPER) return hd * nv * ((double) nv + text);
    return 2 * hd * ((double) nv * (nv + 1) / 2 + (double) text * nv);
  }

  /** Prices a recipe; it must be valid for this geometry (see {@link #checkRecipe}). */
  public Cost evaluate(int[] prune) {
    checkRecipe(g, prune);
    double total = 0, overhead = 0;
    int n = g.visualTokens();
    for (int l = 0; l < prune.length; l++) {
      int out = n - prune[l];
      total += pre[n] + post[out];
      if (prune[l] > 0) overhead += scorePass(n);
      n = out;
    }
    return new Cost(scope, baseline(), total, overhead);
  }

  /** Throws if {@code prune} has the wrong length, a negative count, or removes more tokens than are alive. */
  public static void checkRecipe(Geometry g, int[] prune) {
    if (prune.length != g.layers())
      throw new IllegalArgumentException("recipe has " + prune.length + " layer counts but " + g.name() + " has "
          + g.layers() + " layers");
    int alive = g.visualTokens();
    for (int l = 0; l < prune.length; l++) {
      if (prune[l] < 0) throw new IllegalArgumentException("recipe prunes a negative count at layer " + l + ": " + prune[l]);
      if (prune[l] > alive)
        throw new IllegalArgumentException("recipe prunes " + prune[l] + " tokens at layer " + l + " but only " + alive
            + " visual tokens are alive there");
      alive -= prune[l];
    }
  }
}
