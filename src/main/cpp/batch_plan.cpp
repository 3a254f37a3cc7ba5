// Work tables of packed batches: which sequence owns which work items, packed K blocks and
// partial score rows. Sequences are ordered heaviest first because the pool hands out items in
// order; the order changes no result, since every item reads its own sequence only.
#include <algorithm>

#include "internal.h"

namespace fp {
namespace {

// Sorts the `count` slots by decreasing cost (stable: ties keep sequence order), then assigns
// each its first item, K block and partial row, and writes the totals into the sentinel.
template <class Cost, class Items>
int64_t finish(SeqSlot* slot, int64_t count, Cost cost, Items items) {
  std::stable_sort(slot, slot + count, [&](const SeqSlot& a, const SeqSlot& b) { return cost(a) > cost(b); });
  int64_t item = 0, kb = 0, partial = 0;
  for (int64_t i = 0; i < count; ++i) {
    slot[i].item0 = item;
    slot[i].kb0 = kb;
    slot[i].partial0 = partial;
    const int64_t n = items(slot[i]);
    item += n;
    kb += ceil_div(slot[i].keys, kBlockK);
    partial += n * slot[i].visual;
  }
  slot[count] = SeqSlot{};
  slot[count].item0 = item;
  slot[count].kb0 = kb;
  slot[count].partial0 = partial;
  return count;
}

}  // namespace

int64_t plan_attention(const int64_t* cu, int64_t batch, int heads, SeqSlot* slot, const int64_t* spans,
                       const int64_t* cu_k) {
  int64_t count = 0, out = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = cu[b + 1] - cu[b], P = spans ? spans[2 * b] : 0, V = spans ? spans[2 * b + 1] : 0;
    const int64_t k0 = cu_k ? cu_k[b] : cu[b], keys = cu_k ? cu_k[b + 1] - cu_k[b] : len;
    if (len > 0) slot[count++] = SeqSlot{cu[b], len, k0, keys, P, V, 0, 0, 0, out};
    out += V;
  }
  return finish(slot, count, [](const SeqSlot& s) { return s.len; },
                [&](const SeqSlot& s) { return heads * ceil_div(s.len, kBlockQ); });
}

int64_t plan_scores(const int64_t* cu, const int64_t* spans, int64_t batch, SeqSlot* slot) {
  int64_t count = 0, out = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = cu[b + 1] - cu[b], P = spans[2 * b], V = spans[2 * b + 1];
    if (V > 0) slot[count++] = SeqSlot{cu[b], len, cu[b] + P, V, P, V, 0, 0, 0, out};
    out += V;
  }
  // rows x visual keys each row sees: text rows all of them, visual rows half on average
  return finish(slot, count, [](const SeqSlot& s) { return (s.len - s.prefix - s.visual) * s.visual + s.visual * s.visual / 2; },
                [](const SeqSlot& s) { return score_row_blocks(s.len, s.prefix, s.visual); });
}

}  // namespace fp
