package io.fitprune.bench;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Spans;

/** The layer shapes every attention benchmark runs on (one decoder layer's prefill). */
enum Shapes {
  /** LLaVA-1.5-7B: 35 prefix tokens, 576 visual, 39 text. */
  llava15(650, 32, 32, 128, 35, 576),
  /** LLaVA-HR-7B: 1024 visual tokens. */
  llavahr(1100, 32, 32, 128, 35, 1024),
  /** A GQA decoder (Qwen2-7B-like heads) on the LLaVA-1.5 token layout. */
  gqa(650, 28, 4, 128, 35, 576);

  final AttentionShape shape;
  final Spans spans;

  Shapes(int n, int heads, int kvHeads, int headDim, int prefix, int visual) {
    shape = new AttentionShape(n, heads, kvHeads, headDim);
    spans = new Spans(prefix, visual);
  }

  /** Causal attention FLOPs the FlashAttention way: half of 4*n^2*d*H. */
  double attentionFlops() {
    double n = shape.tokens();
    return 2.0 * n * n * shape.headDim() * shape.heads();
  }
}
