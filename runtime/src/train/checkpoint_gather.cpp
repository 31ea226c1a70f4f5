#include "checkpoint_gather.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "pp/runtime/safetensors.h"

namespace pp {
namespace {

std::string describe(const std::vector<TensorRef>& tensors) {
  nlohmann::json list = nlohmann::json::array();
  for (const TensorRef& t : tensors) list.push_back({{"name", t.name}, {"shape", t.shape}});
  return list.dump();
}

std::vector<TensorInfo> parse_description(const std::string& text) {
  std::vector<TensorInfo> infos;
  for (const auto& entry : nlohmann::json::parse(text)) {
    infos.push_back({entry.at("name").get<std::string>(), entry.at("shape").get<std::vector<std::int64_t>>()});
  }
  return infos;
}

std::size_t elements(const TensorInfo& t) {
  std::int64_t n = 1;
  for (std::int64_t d : t.shape) n *= d;
  return static_cast<std::size_t>(n);
}

void send_all(Transport& world, const std::vector<TensorRef>& mine) {
  // MPI only reads a send's buffer; the view is const because the tensors are the caller's.
  for (const TensorRef& t : mine) world.wait(world.isend(0, Buffer::on_host(const_cast<float*>(t.data), t.count)));
}

void receive_and_write(Transport& world, const std::vector<TensorRef>& mine,
                       const std::vector<std::vector<TensorInfo>>& per_rank, const std::string& path,
                       const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  std::vector<TensorInfo> kept;
  std::vector<std::vector<bool>> keep(per_rank.size());
  std::size_t largest = 0;
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    for (const TensorInfo& t : per_rank[r]) {
      keep[r].push_back(seen.insert(t.name).second);
      if (keep[r].back()) kept.push_back(t);
      if (r != 0) largest = std::max(largest, elements(t));
    }
  }
  SafetensorsStreamWriter out(path, std::move(kept), metadata);
  for (std::size_t i = 0; i < mine.size(); ++i) {
    if (keep[0][i]) out.write_next(mine[i].data, mine[i].count);
  }
  std::vector<float> buffer(largest);
  for (std::size_t r = 1; r < per_rank.size(); ++r) {
    for (std::size_t i = 0; i < per_rank[r].size(); ++i) {
      const std::size_t n = elements(per_rank[r][i]);
      world.wait(world.irecv(static_cast<int>(r), Buffer::on_host(buffer.data(), n)));
      if (keep[r][i]) out.write_next(buffer.data(), n);
    }
  }
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
  std::vector<std::vector<TensorInfo>> per_rank;
  for (const std::string& text : descriptions) per_rank.push_back(parse_description(text));
  receive_and_write(world, mine, per_rank, path, metadata);
}

}  // namespace pp
