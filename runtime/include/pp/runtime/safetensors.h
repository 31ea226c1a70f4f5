#pragma once
// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), so a pp
// checkpoint opens in Python (safetensors.torch.load_file) and a Hugging Face GPT-2 checkpoint
// loads into pp. Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<string>"}}
// then the raw little-endian data, offsets relative to its start.
//
// Errors: pp::Error(kIo) for a file that cannot be opened or written; pp::Error(kInvalidInput),
// one line naming the file (and the tensor), for bad content: a truncated file, a bad header, a
// missing or mis-shaped tensor, an unsupported dtype. Headers are treated as hostile (length
// capped at 100 MB, every offset checked): bad content never reads out of bounds.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pp/runtime/parameters.h"

namespace pp {

// Writes each tensor's data (not its grad) as F32, with `metadata` as "__metadata__", atomically:
// a temporary file beside `path`, fsync, rename. Tensor names must be unique, and each tensor's
// data must hold product(shape) floats (else pp::Error(kInternal)).
void save_safetensors(const std::string& path, const std::vector<const Tensor*>& tensors,
                      const std::map<std::string, std::string>& metadata);

// A tensor's name and shape, known before its data.
struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> shape;
};

// Streams a safetensors file whose tensors are known up front and whose data arrives in that
// order, one tensor after another, so a checkpoint gathered from many ranks never has to be held
// in memory whole. Atomic as save_safetensors: nothing appears at `path` before commit().
// write_next() with the wrong element count, or commit() before every tensor is written, is
// pp::Error(kInternal).
class SafetensorsStreamWriter {
 public:
  SafetensorsStreamWriter(const std::string& path, std::vector<TensorInfo> tensors,
                          const std::map<std::string, std::string>& metadata);
  ~SafetensorsStreamWriter();
  void write_next(const float* data, std::size_t count);
  void commit();

 private:
  struct File;
  std::unique_ptr<File> file_;
  std::vector<TensorInfo> tensors_;
  std::size_t next_ = 0;
};

// Fills the data of every tensor of `into` from the file tensor of the same name, or of the name
// with a "transformer." prefix (Hugging Face GPT2LMHeadModel files). Converts F16 and BF16 to
// float; F32 is copied. File tensors that `into` lacks (attention-mask buffers "h.0.attn.bias",
// the tied "lm_head.weight", another stage's layers) are ignored. strict: a tensor of `into`
// missing from the file is an error; otherwise it keeps its values. Grads are not touched. A
// tensor-parallel piece (a tensor with a shard) reads its piece of the file's whole tensor, which
// must have the tensor's full_shape(): any layout loads any checkpoint.
void load_safetensors(const std::string& path, ParameterSet* into, bool strict);

// The "__metadata__" map of the file (empty when absent).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

}  // namespace pp
