#include "pp/runtime/backend_choice.h"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "pp/error.h"
#include "pp/runtime/devices.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/transport.h"

namespace pp {
namespace {

ComputeDevice choose_device(const std::string& device, const MachineFacts& m, const ScheduleFacts& plan) {
  if (device == "cpu") return ComputeDevice::kCpu;
  if (device == "auto") {
    return m.cuda_built && m.cuda_training && m.cuda_by_default && m.gpus_per_node > 0 && plan.cuda_gap.empty()
               ? ComputeDevice::kCuda
               : ComputeDevice::kCpu;
  }
  if (device != "cuda") throw_invalid(fmt::format("--device {}: expected auto, cpu or cuda", device));
  if (!m.cuda_built) throw_invalid("--device cuda: this pp was built without CUDA (PP_ENABLE_CUDA=OFF); use --device cpu");
  if (m.gpus_per_node == 0) throw_invalid("--device cuda: no usable GPU on at least one node of the job; use --device cpu");
  if (!m.cuda_training) throw_invalid(fmt::format("--device cuda: {}; use --device cpu", m.cuda_training_gap));
  if (!plan.cuda_gap.empty()) throw_invalid(fmt::format("--device cuda: {}; use --device cpu", plan.cuda_gap));
  return ComputeDevice::kCuda;
}

TransportKind choose_transport(const std::string& transport, ComputeDevice device, const MachineFacts& m,
                               const ScheduleFacts& schedule) {
  const bool gpu_each = m.gpus_per_node >= m.ranks_per_node;
  if (transport == "mpi") return device == ComputeDevice::kCuda ? TransportKind::kStagedMpi : TransportKind::kMpi;
  if (transport == "auto") {
    if (device == ComputeDevice::kCpu) return TransportKind::kMpi;
    return m.nccl_built && gpu_each && schedule.nccl_safe ? TransportKind::kNccl : TransportKind::kStagedMpi;
  }
  if (transport != "nccl") throw_invalid(fmt::format("--transport {}: expected auto, mpi or nccl", transport));
  if (device != ComputeDevice::kCuda) throw_invalid("--transport nccl moves device memory: it needs --device cuda");
  if (!m.nccl_built) throw_invalid("--transport nccl: this pp was built without NCCL; use --transport mpi");
  if (!gpu_each) {
    throw_invalid(fmt::format("--transport nccl: {} ranks share {} GPU(s) on a node, and NCCL refuses two ranks on "
                              "one GPU; use --transport mpi (staged through host memory) or fewer ranks per node",
                              m.ranks_per_node, m.gpus_per_node));
  }
  if (!schedule.nccl_safe) {
    throw_invalid(fmt::format("--transport nccl: the {} schedule's send/receive order would deadlock NCCL, whose "
                              "sends wait for their receives ({}); use --transport mpi",
                              schedule.name, schedule.nccl_stuck));
  }
  return TransportKind::kNccl;
}

}  // namespace

BackendChoice choose_backend(const BackendRequest& request, const MachineFacts& machine,
                             const ScheduleFacts& schedule) {
  BackendChoice choice;
  choice.device = choose_device(request.device, machine, schedule);
  choice.transport = choose_transport(request.transport, choice.device, machine, schedule);
  choice.reason = choice.device == ComputeDevice::kCpu
                      ? fmt::format("cpu with {}", to_string(choice.transport))
                      : fmt::format("cuda with {}: up to {} ranks and at least {} GPU(s) per node",
                                    to_string(choice.transport), machine.ranks_per_node, machine.gpus_per_node);
  if (choice.transport == TransportKind::kStagedMpi && request.transport == "auto" && !schedule.nccl_safe &&
      machine.nccl_built && machine.gpus_per_node >= machine.ranks_per_node) {
    choice.reason += fmt::format(" (not nccl: the {} schedule's order would deadlock its rendezvous sends)",
                                 schedule.name);
  }
  if (request.device == "auto" && choice.device == ComputeDevice::kCpu && machine.gpus_per_node > 0) {
    choice.reason += fmt::format(" (GPUs present, but {})",
                                 !machine.cuda_training  ? machine.cuda_training_gap
                                 : !schedule.cuda_gap.empty() ? schedule.cuda_gap
                                                              : machine.cuda_default_gap);
  }
  return choice;
}

NodeCounts count_per_node(const std::vector<RankDevices>& ranks) {
  std::map<std::string, std::set<std::string>> gpus;
  std::map<std::string, int> rank_count;
  for (const RankDevices& r : ranks) {
    gpus[r.host].insert(r.gpu_ids.begin(), r.gpu_ids.end());
    ++rank_count[r.host];
  }
  NodeCounts c;
  if (ranks.empty()) return c;
  c.gpus_per_node = std::numeric_limits<int>::max();
  for (const auto& [host, ids] : gpus) c.gpus_per_node = std::min(c.gpus_per_node, static_cast<int>(ids.size()));
  for (const auto& [host, n] : rank_count) c.ranks_per_node = std::max(c.ranks_per_node, n);
  return c;
}

MachineFacts gather_machine_facts(Transport& world) {
  const DeviceReport devices = probe_devices();
  MachineFacts facts;
  facts.cuda_built = devices.cuda_built;
#ifdef PP_WITH_NCCL
  facts.nccl_built = true;
#endif
  facts.cuda_training = devices.cuda_built;
  facts.cuda_training_gap = "this pp was built without CUDA";
  // The CUDA backend is new: it is used when asked for, and becomes the default once it has been
  // checked on GPUs against the CPU backend (scripts/gpu_check.sh).
  facts.cuda_by_default = false;
  facts.cuda_default_gap = "GPU training is new in this version and not the default yet: pass --device cuda";
  // Each rank's host and GPU UUIDs, one line each ("host\tid,id,..."), counted at rank 0.
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string mine = std::string(host) + "\t";
  for (std::size_t i = 0; i < devices.ids.size(); ++i) mine += (i ? "," : "") + devices.ids[i];
  const std::vector<std::string> all = world.gather_bytes(mine);
  double counts[2] = {0, 1};
  if (world.rank() == 0) {
    std::vector<RankDevices> ranks;
    for (const std::string& line : all) {
      RankDevices r;
      const std::size_t tab = line.find('\t');
      r.host = line.substr(0, tab);
      for (std::size_t at = tab + 1; tab != std::string::npos && at < line.size();) {
        const std::size_t comma = std::min(line.find(',', at), line.size());
        r.gpu_ids.push_back(line.substr(at, comma - at));
        at = comma + 1;
      }
      ranks.push_back(std::move(r));
    }
    const NodeCounts c = count_per_node(ranks);
    counts[0] = c.gpus_per_node;
    counts[1] = c.ranks_per_node;
  }
  world.broadcast(counts, 2, 0);
  facts.gpus_per_node = static_cast<int>(counts[0]);
  facts.ranks_per_node = static_cast<int>(counts[1]);
  return facts;
}

const char* to_string(ComputeDevice device) { return device == ComputeDevice::kCpu ? "cpu" : "cuda"; }

const char* to_string(TransportKind transport) {
  switch (transport) {
    case TransportKind::kMpi: return "mpi";
    case TransportKind::kStagedMpi: return "mpi-staged";
    case TransportKind::kNccl: return "nccl";
  }
  return "?";
}

}  // namespace pp
