#include "pp/runtime/sharding.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "pp/error.h"

namespace pp {
namespace {

std::int64_t product(const std::vector<std::int64_t>& shape, std::size_t begin, std::size_t end) {
  std::int64_t n = 1;
  for (std::size_t i = begin; i < end; ++i) n *= shape[i];
  return n;
}

// Calls f(whole_offset, piece_offset, count) for each contiguous run of the piece.
template <class F>
void for_each_run(const std::vector<std::int64_t>& whole, const Shard& s, F f) {
  if (s.replicated()) {
    f(0, 0, product(whole, 0, whole.size()));
    return;
  }
  const std::size_t d = static_cast<std::size_t>(s.dim);
  const std::int64_t outer = product(whole, 0, d);
  const std::int64_t inner = product(whole, d + 1, whole.size());
  const std::int64_t block = whole[d] / s.groups;
  const PieceRange r = piece_range(block, s.index, s.parts);
  const std::int64_t run = (r.end - r.begin) * inner;
  std::int64_t piece_offset = 0;
  for (std::int64_t o = 0; o < outer; ++o) {
    for (int g = 0; g < s.groups; ++g) {
      f((o * whole[d] + g * block + r.begin) * inner, piece_offset, run);
      piece_offset += run;
    }
  }
}

}  // namespace

PieceRange piece_range(std::int64_t n, int index, int parts) {
  return {n * index / parts, n * (index + 1) / parts};
}

std::vector<std::int64_t> piece_shape(const std::vector<std::int64_t>& whole, const Shard& s,
                                      const std::string& name) {
  if (s.replicated()) return whole;
  const std::size_t d = static_cast<std::size_t>(s.dim);
  if (d >= whole.size() || s.groups < 1 || whole[d] % s.groups != 0 || whole[d] / s.groups < s.parts) {
    throw_invalid(fmt::format("{} (shape [{}]) cannot be split {} ways along dimension {}", name,
                              fmt::join(whole, ", "), s.parts, s.dim));
  }
  std::vector<std::int64_t> shape = whole;
  const PieceRange r = piece_range(whole[d] / s.groups, s.index, s.parts);
  shape[d] = (r.end - r.begin) * s.groups;
  return shape;
}

void copy_piece(const float* whole, const std::vector<std::int64_t>& whole_shape, const Shard& s, float* piece) {
  for_each_run(whole_shape, s, [&](std::int64_t from, std::int64_t to, std::int64_t n) {
    std::copy(whole + from, whole + from + n, piece + to);
  });
}

void place_piece(const float* piece, const std::vector<std::int64_t>& whole_shape, const Shard& s, float* whole) {
  for_each_run(whole_shape, s, [&](std::int64_t to, std::int64_t from, std::int64_t n) {
    std::copy(piece + from, piece + from + n, whole + to);
  });
}

}  // namespace pp
