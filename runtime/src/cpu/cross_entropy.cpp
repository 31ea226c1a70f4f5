#include "cross_entropy.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace pp::cpu {
namespace {

// One row's statistics on one rank, as three doubles in the stats scratch: its logits' maximum,
// the sum of exp(logit - max) over its columns, and the target's logit when the rank holds the
// target (else 0).
constexpr std::size_t kMax = 0, kSum = 1, kTarget = 2, kStats = 3;

// Exponentiates row (v) in place against its maximum; writes the row's statistics to out.
void exponentiate(float* row, int v, std::int32_t target, PieceRange range, double* out) {
  float max = row[0];
  for (int j = 1; j < v; ++j) max = std::fmax(max, row[j]);
  out[kMax] = max;
  out[kTarget] = range.contains(target) ? row[target - range.begin] : 0.0f;
  double sum = 0.0;
  for (int j = 0; j < v; ++j) {
    row[j] = std::exp(row[j] - max);
    sum += row[j];
  }
  out[kSum] = sum;
}

}  // namespace

double softmax_cross_entropy_forward(float* probs, const std::int32_t* targets, PieceRange range, int n,
                                     const TensorParallel& tp, std::vector<double>* stats) {
  const int v = static_cast<int>(range.size());
  const std::size_t rows = static_cast<std::size_t>(n);
  // (tp, n, 3): every rank's statistics of every row, through a sum of zero-padded slots (exact:
  // each entry is one value plus zeros).
  stats->assign(rows * kStats * tp.size(), 0.0);
  double* mine = stats->data() + rows * kStats * tp.rank();
  for (std::size_t i = 0; i < rows; ++i) exponentiate(probs + i * v, v, targets[i], range, mine + i * kStats);
  tp.sum(stats->data(), stats->size());
  double loss = 0.0;
  for (std::size_t i = 0; i < rows; ++i) {
    const auto at = [&](int r, std::size_t k) { return (*stats)[(r * rows + i) * kStats + k]; };
    float max = static_cast<float>(mine[i * kStats + kMax]);
    float target_logit = 0.0f;
    for (int r = 0; r < tp.size(); ++r) {
      max = std::fmax(max, static_cast<float>(at(r, kMax)));
      target_logit += static_cast<float>(at(r, kTarget));
    }
    double sum = 0.0;
    for (int r = 0; r < tp.size(); ++r) sum += at(r, kSum) * std::exp(at(r, kMax) - max);
    loss += std::log(sum) - static_cast<double>(target_logit - max);
    const float factor = static_cast<float>(std::exp(mine[i * kStats + kMax] - max) / sum);
    float* row = probs + i * v;
    for (int j = 0; j < v; ++j) row[j] *= factor;
  }
  return loss;
}

void softmax_cross_entropy_backward(float* probs, const std::int32_t* targets, PieceRange range, float scale, int n) {
  const int v = static_cast<int>(range.size());
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    float* row = probs + i * v;
    if (range.contains(targets[i])) row[targets[i] - range.begin] -= 1.0f;
    for (int j = 0; j < v; ++j) row[j] *= scale;
  }
}

}  // namespace pp::cpu
