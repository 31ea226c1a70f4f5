#pragma once
// A GPT-2-family ModelConfig of any small size, for tests and benchmarks that build stages by hand
// (tied embeddings, MLP 4 x hidden, as GPT-2).
#include "pp/model.h"

namespace pp::test {

inline ModelConfig small_gpt2(int hidden, int layers, int heads, int vocab, int positions) {
  ModelConfig m;
  m.name = "small-gpt2";
  m.family = ModelFamily::kGpt2;
  m.hidden = hidden;
  m.layers = layers;
  m.heads = heads;
  m.kv_heads = heads;
  m.ffn_hidden = 4 * hidden;
  m.vocab = vocab;
  m.max_positions = positions;
  m.tied_embeddings = true;
  return m;
}

}  // namespace pp::test
