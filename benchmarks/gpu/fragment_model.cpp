// Host model of the tensor-core kernels' data movement (no GPU needed): the swizzled shared-memory
// tiles, each lane's ldmatrix(.trans) address, the PTX-documented fragment layouts of ldmatrix and
// mma.m16n8k16 (row.col), and the S -> P register reuse, checked against plain matrix products.
// It catches indexing mistakes in attention_mma.cuh before a GPU run; it cannot catch a wrong
// reading of the PTX layouts themselves (the GPU check does).
//   g++ -O1 -std=c++17 benchmarks/gpu/fragment_model.cpp -o /tmp/fm && /tmp/fm
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

template <int D>
int swz(int row, int col) { return row * D + (((col >> 3) ^ (row & 7)) * 8) + (col & 7); }

struct Pair { float lo, hi; };
using Smem = std::vector<float>;

// ldmatrix.x4 (.trans): lane l addresses row (l % 8) of matrix l / 8; returns per-lane 4 pairs.
void ldmatrix_x4(const Smem& s, const int (&addr)[32], bool trans, Pair (&out)[32][4]) {
  for (int m = 0; m < 4; ++m) {
    // matrix m: rows are the 8 addresses of lanes 8m..8m+7, 8 consecutive elements each
    float M[8][8];
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) M[r][c] = s[addr[8 * m + r] + c];
    for (int t = 0; t < 32; ++t) {
      const int g = t / 4, q = t % 4;
      out[t][m] = trans ? Pair{M[2 * q][g], M[2 * q + 1][g]} : Pair{M[g][2 * q], M[g][2 * q + 1]};
    }
  }
}

// D(16x8) += A(16x16) B(16x8) from per-lane fragments.
void mma(float (&d)[32][4], const Pair (&a)[32][4], const Pair (&b)[32][2]) {
  float A[16][16], B[16][8];
  for (int t = 0; t < 32; ++t) {
    const int g = t / 4, q = t % 4;
    A[g][2 * q] = a[t][0].lo; A[g][2 * q + 1] = a[t][0].hi;
    A[g + 8][2 * q] = a[t][1].lo; A[g + 8][2 * q + 1] = a[t][1].hi;
    A[g][2 * q + 8] = a[t][2].lo; A[g][2 * q + 9] = a[t][2].hi;
    A[g + 8][2 * q + 8] = a[t][3].lo; A[g + 8][2 * q + 9] = a[t][3].hi;
    B[2 * q][g] = b[t][0].lo; B[2 * q + 1][g] = b[t][0].hi;
    B[2 * q + 8][g] = b[t][1].lo; B[2 * q + 9][g] = b[t][1].hi;
  }
  for (int t = 0; t < 32; ++t) {
    const int g = t / 4, q = t % 4;
    for (int e = 0; e < 4; ++e) {
      const int row = e < 2 ? g : g + 8, col = 2 * q + (e & 1);
      float acc = 0;
      for (int k = 0; k < 16; ++k) acc += A[row][k] * B[k][col];
      d[t][e] += acc;
    }
  }
}

int main() {
  constexpr int D = 128, BK = 64, ROWS = 128;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> U(-1, 1);
  std::vector<float> Q(ROWS * D), K(BK * D), V(BK * D);
  for (auto* m : {&Q, &K, &V}) for (auto& x : *m) x = U(rng);
  Smem sQ(ROWS * D), sK(BK * D), sV(BK * D);
  for (int r = 0; r < ROWS; ++r) for (int c = 0; c < D; ++c) sQ[swz<D>(r, c)] = Q[r * D + c];
  for (int r = 0; r < BK; ++r) for (int c = 0; c < D; ++c) { sK[swz<D>(r, c)] = K[r * D + c]; sV[swz<D>(r, c)] = V[r * D + c]; }
  double worst = 0;
  for (int warp = 0; warp < ROWS / 16; ++warp) {
    Pair qf[D / 16][32][4];
    for (int kc = 0; kc < D / 16; ++kc) {
      int addr[32];
      for (int lane = 0; lane < 32; ++lane) addr[lane] = swz<D>(warp * 16 + (lane & 15), kc * 16 + (lane >> 4) * 8);
      ldmatrix_x4(sQ, addr, false, qf[kc]);
    }
    float s[BK / 8][32][4] = {};
    for (int kc = 0; kc < D / 16; ++kc)
      for (int np = 0; np < BK / 16; ++np) {
        int addr[32];
        for (int lane = 0; lane < 32; ++lane)
          addr[lane] = swz<D>(np * 16 + (lane >> 4) * 8 + (lane & 7), kc * 16 + ((lane >> 3) & 1) * 8);
        Pair b[32][4];
        ldmatrix_x4(sK, addr, false, b);
        Pair b0[32][2], b1[32][2];
        for (int t = 0; t < 32; ++t) { b0[t][0] = b[t][0]; b0[t][1] = b[t][1]; b1[t][0] = b[t][2]; b1[t][1] = b[t][3]; }
        mma(s[2 * np], qf[kc], b0);
        mma(s[2 * np + 1], qf[kc], b1);
      }
    // S against Q K^T
    for (int j = 0; j < BK / 8; ++j)
      for (int t = 0; t < 32; ++t)
        for (int e = 0; e < 4; ++e) {
          const int row = warp * 16 + t / 4 + (e < 2 ? 0 : 8), key = 8 * j + 2 * (t % 4) + (e & 1);
          double ref = 0;
          for (int c = 0; c < D; ++c) ref += (double)Q[row * D + c] * K[key * D + c];
          worst = std::fmax(worst, std::fabs(ref - s[j][t][e]));
        }
    // O = P V with P = S (register reuse as the A operand) and V through ldmatrix.trans
    float o[D / 8][32][4] = {};
    for (int kc = 0; kc < BK / 16; ++kc) {
      Pair a[32][4];
      for (int t = 0; t < 32; ++t) {
        a[t][0] = {s[2 * kc][t][0], s[2 * kc][t][1]};
        a[t][1] = {s[2 * kc][t][2], s[2 * kc][t][3]};
        a[t][2] = {s[2 * kc + 1][t][0], s[2 * kc + 1][t][1]};
        a[t][3] = {s[2 * kc + 1][t][2], s[2 * kc + 1][t][3]};
      }
      for (int dp = 0; dp < D / 16; ++dp) {
        int addr[32];
        for (int lane = 0; lane < 32; ++lane)
          addr[lane] = swz<D>(kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dp * 16 + (lane >> 4) * 8);
        Pair b[32][4];
        ldmatrix_x4(sV, addr, true, b);
        Pair b0[32][2], b1[32][2];
        for (int t = 0; t < 32; ++t) { b0[t][0] = b[t][0]; b0[t][1] = b[t][1]; b1[t][0] = b[t][2]; b1[t][1] = b[t][3]; }
        mma(o[2 * dp], a, b0);
        mma(o[2 * dp + 1], a, b1);
      }
    }
    for (int i = 0; i < D / 8; ++i)
      for (int t = 0; t < 32; ++t)
        for (int e = 0; e < 4; ++e) {
          const int row = warp * 16 + t / 4 + (e < 2 ? 0 : 8), col = i * 8 + 2 * (t % 4) + (e & 1);
          double ref = 0;
          for (int key = 0; key < BK; ++key) {
            double sk = 0;
            for (int c = 0; c < D; ++c) sk += (double)Q[row * D + c] * K[key * D + c];
            ref += sk * V[key * D + col];
          }
          worst = std::fmax(worst, std::fabs(ref - o[i][t][e]) / 64);
        }
  }
  std::printf("fragment model: max error %.3g (%s)\n", worst, worst < 1e-3 ? "ok" : "MISMATCH");
  return worst < 1e-3 ? 0 : 1;
}
