#pragma once
// Float buffers reused across micro-batches, so that a stage's steady state allocates nothing.
// A buffer given back is kept (keyed by its exact length) and handed out again by the next take()
// of that length. The pool grows to what was live at once: after one step of a schedule, a step
// that repeats the same pattern of takes and gives allocates nothing, and a checkpointed block or
// an activation freed after its last use still gives its memory back to the stage (to the pool)
// for the next micro-batch.

#include <cstddef>
#include <map>
#include <utility>
#include <vector>

namespace pp::cpu {

class BufferPool {
 public:
  // A buffer of exactly n floats. Its contents are unspecified (a previous user's values): the
  // taker overwrites it, or fills it, before reading.
  std::vector<float> take(std::size_t n) {
    std::vector<std::vector<float>>& spare = free_[n];
    if (spare.empty()) {
      ++allocations_;
      return std::vector<float>(n);
    }
    std::vector<float> v = std::move(spare.back());
    spare.pop_back();
    return v;
  }

  // Makes *v hold exactly n floats: its own buffer when it has that length already, else a pooled
  // one (its old buffer goes back to the pool). Contents unspecified, as take().
  void ensure(std::vector<float>* v, std::size_t n) {
    if (v->size() == n) return;
    give(v);
    *v = take(n);
  }

  // Takes *v back for reuse (nothing for an empty one) and leaves *v empty.
  void give(std::vector<float>* v) {
    if (v->empty()) return;
    free_[v->size()].push_back(std::move(*v));
    v->clear();
  }

  std::size_t allocations() const { return allocations_; }  // buffers allocated so far

 private:
  std::map<std::size_t, std::vector<std::vector<float>>> free_;  // length -> spare buffers
  std::size_t allocations_ = 0;
};

}  // namespace pp::cpu
