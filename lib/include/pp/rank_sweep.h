#pragma once
// Advancing every rank of a schedule as far as it can go, over and over, until none moves: the
// loop shared by the validator's deadlock check and the simulator. Sweeps alternate direction so
// that dependencies flowing either way along the pipeline settle in few sweeps.

namespace pp {

// `advance(rank)` runs the rank until it must wait and returns whether it moved.
template <typename Advance>
void sweep_until_stuck(int ranks, Advance advance) {
  bool progress = true;
  bool upward = true;
  while (progress) {
    progress = false;
    for (int j = 0; j < ranks; ++j) progress |= advance(upward ? j : ranks - 1 - j);
    upward = !upward;
  }
}

}  // namespace pp
