#include "checkpoint_gather.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "pp/error.h"
#include "pp/runtime/safetensors.h"

namespace pp {
namespace {

// What rank 0 knows of a tensor (or piece) another rank holds, before its data arrives.
struct PieceInfo {
  std::string name;
  std::vector<std::int64_t> shape;  // the piece's
  std::vector<std::int64_t> whole;  // the tensor's
  Shard shard;
};

std::size_t elements(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return static_cast<std::size_t>(n);
}

std::string describe(const std::vector<TensorRef>& tensors) {
  nlohmann::json list = nlohmann::json::array();
  for (const TensorRef& t : tensors) {
    list.push_back({{"name", t.name},
                    {"shape", t.shape},
                    {"whole", t.full_shape()},
                    {"shard", {t.shard.dim, t.shard.groups, t.shard.index, t.shard.parts}}});
  }
  return list.dump();
}

std::vector<PieceInfo> parse_description(const std::string& text) {
  std::vector<PieceInfo> infos;
  for (const auto& e : nlohmann::json::parse(text)) {
    const auto s = e.at("shard").get<std::vector<int>>();
    infos.push_back({e.at("name").get<std::string>(), e.at("shape").get<std::vector<std::int64_t>>(),
                     e.at("whole").get<std::vector<std::int64_t>>(), Shard{s.at(0), s.at(1), s.at(2), s.at(3)}});
  }
  return infos;
}

void send_all(Transport& world, const std::vector<TensorRef>& mine) {
  // MPI only reads a send's buffer; the view is const because the tensors are the caller's.
  for (const TensorRef& t : mine) world.wait(world.isend(0, Buffer::on_host(const_cast<float*>(t.data), t.count)));
}

// A tensor of the file: its pieces as (rank, index in that rank's list); one for a replicated one.
struct FileTensor {
  TensorInfo info;
  Shard shard;
  std::vector<std::pair<int, std::size_t>> pieces;
};

// Whether t's pieces are indices 0..parts-1 of its split, each exactly once.
bool each_piece_once(const FileTensor& t, const std::vector<std::vector<PieceInfo>>& per_rank) {
  std::vector<int> count(static_cast<std::size_t>(t.shard.parts), 0);
  for (const auto& [r, i] : t.pieces) {
    const int piece = per_rank[r][i].shard.index;
    if (piece < 0 || piece >= t.shard.parts || ++count[piece] > 1) return false;
  }
  return t.pieces.size() == count.size();
}

std::vector<FileTensor> plan_file(const std::vector<std::vector<PieceInfo>>& per_rank) {
  std::vector<FileTensor> file;
  std::map<std::string, std::size_t> index;
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    for (std::size_t i = 0; i < per_rank[r].size(); ++i) {
      const PieceInfo& p = per_rank[r][i];
      auto [it, fresh] = index.emplace(p.name, file.size());
      if (fresh) file.push_back({{p.name, p.whole}, p.shard, {}});
      FileTensor& t = file[it->second];
      if (fresh || !t.shard.replicated()) t.pieces.emplace_back(static_cast<int>(r), i);
    }
  }
  for (const FileTensor& t : file) {
    if (!t.shard.replicated() && !each_piece_once(t, per_rank)) {
      throw Error(ErrorCategory::kInternal, fmt::format("checkpoint tensor {}: its {} pieces are not the {} of a "
                                                        "tensor-parallel split, each once",
                                                        t.info.name, t.pieces.size(), t.shard.parts));
    }
  }
  return file;
}

// Rank 0's receiving side: each rank's tensors arrive in that rank's order; those not wanted
// (a replicated tensor's later copies) are received into scratch and dropped.
class PieceReader {
 public:
  PieceReader(Transport& world, const std::vector<TensorRef>& mine, const std::vector<std::vector<PieceInfo>>& per_rank)
      : world_(world), mine_(mine), per_rank_(per_rank), next_(per_rank.size(), 0) {}

  // The data of rank r's tensor i (valid until the next call).
  const float* read(int r, std::size_t i) {
    if (r == 0) return mine_.at(i).data;
    while (next_[r] < i) receive(r, next_[r]);  // dropped copies
    receive(r, i);
    return buffer_.data();
  }
  void drain() {
    for (std::size_t r = 1; r < per_rank_.size(); ++r) {
      while (next_[r] < per_rank_[r].size()) receive(static_cast<int>(r), next_[r]);
    }
  }

 private:
  void receive(int r, std::size_t i) {
    const std::size_t n = elements(per_rank_[r][i].shape);
    buffer_.resize(std::max(buffer_.size(), n));
    world_.wait(world_.irecv(r, Buffer::on_host(buffer_.data(), n)));
    next_[r] = i + 1;
  }

  Transport& world_;
  const std::vector<TensorRef>& mine_;
  const std::vector<std::vector<PieceInfo>>& per_rank_;
  std::vector<std::size_t> next_;
  std::vector<float> buffer_;
};

void receive_and_write(Transport& world, const std::vector<TensorRef>& mine,
                       const std::vector<std::vector<PieceInfo>>& per_rank, const std::string& path,
                       const std::map<std::string, std::string>& metadata) {
  const std::vector<FileTensor> file = plan_file(per_rank);
  std::vector<TensorInfo> infos;
  for (const FileTensor& t : file) infos.push_back(t.info);
  SafetensorsStreamWriter out(path, std::move(infos), metadata);
  PieceReader reader(world, mine, per_rank);
  std::vector<float> whole;
  for (const FileTensor& t : file) {
    if (t.shard.replicated()) {
      const auto [r, i] = t.pieces.front();
      out.write_next(reader.read(r, i), elements(t.info.shape));
      continue;
    }
    whole.assign(elements(t.info.shape), 0.0f);
    for (const auto& [r, i] : t.pieces) {
      place_piece(reader.read(r, i), t.info.shape, per_rank[r][i].shard, whole.data());
    }
    out.write_next(whole.data(), whole.size());
  }
  reader.drain();
  out.commit();
}

}  // namespace

void save_gathered_checkpoint(Transport& world, const std::vector<TensorRef>& mine, const std::string& path,
                              const std::map<std::string, std::string>& metadata) {
  const std::vector<std::string> descriptions = world.gather_bytes(describe(mine));
  if (world.rank() != 0) {
    send_all(world, mine);
    return;
  }
  std::vector<std::vector<PieceInfo>> per_rank;
  for (const std::string& text : descriptions) per_rank.push_back(parse_description(text));
  receive_and_write(world, mine, per_rank, path, metadata);
}

}  // namespace pp
