#pragma once
// How a parameter tensor is split over the ranks of a tensor-parallel group (Megatron-LM's
// layout), and the copies between a whole tensor and one rank's piece of it.
//
// A sharded tensor is cut along one dimension `dim`. That dimension is viewed as `groups` equal
// blocks (GPT-2's c_attn columns are [q | k | v]: 3 blocks), and each block is cut into `parts`
// contiguous pieces; rank `index` holds piece `index` of every block, in block order. Piece i of a
// block of n entries is [i * n / parts, (i + 1) * n / parts) (integer division), so n need not be
// a multiple of parts (a vocabulary of any size), as long as n >= parts. A replicated tensor
// (dim < 0) is held whole by every rank.

#include <cstdint>
#include <string>
#include <vector>

namespace pp {

struct Shard {
  int dim = -1;      // the dimension cut; -1: replicated
  int groups = 1;    // equal blocks along dim, each cut into parts
  int index = 0;     // this rank's piece, 0..parts-1
  int parts = 1;     // the tensor-parallel degree
  bool replicated() const { return dim < 0 || parts == 1; }
};

// [begin, end) of piece `index` of `parts` of n entries.
struct PieceRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  bool contains(std::int64_t i) const { return i >= begin && i < end; }
  std::int64_t size() const { return end - begin; }
};
PieceRange piece_range(std::int64_t n, int index, int parts);

// The shape of `shard`'s piece of a tensor of `whole` shape. Throws pp::Error(kInvalidInput) when
// the dimension cannot be cut so (not a multiple of groups, or a block shorter than parts).
std::vector<std::int64_t> piece_shape(const std::vector<std::int64_t>& whole, const Shard& shard,
                                      const std::string& name);

// piece (piece_shape floats) = the shard's part of `whole` (row-major, `whole_shape`).
void copy_piece(const float* whole, const std::vector<std::int64_t>& whole_shape, const Shard& shard,
                float* piece);
// The inverse: writes `piece` into its place in `whole`; the rest of `whole` is left as it was.
void place_piece(const float* piece, const std::vector<std::int64_t>& whole_shape, const Shard& shard,
                 float* whole);

}  // namespace pp
