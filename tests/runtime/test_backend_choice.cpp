// pp run's choice of device and transport from --device, --transport and the machine.
#include <gtest/gtest.h>

#include <string>

#include "pp/error.h"
#include "pp/runtime/backend_choice.h"

namespace {

using pp::BackendRequest;
using pp::ComputeDevice;
using pp::MachineFacts;
using pp::TransportKind;

MachineFacts gpu_node(int gpus, int ranks, bool can_train = true) {
  MachineFacts m;
  m.cuda_built = true;
  m.nccl_built = true;
  m.cuda_training = can_train;
  m.cuda_training_gap = can_train ? "" : "no GPU training yet";
  m.cuda_by_default = true;
  m.gpus_per_node = gpus;
  m.ranks_per_node = ranks;
  return m;
}

std::string error_of(const BackendRequest& r, const MachineFacts& m, const pp::ScheduleFacts& s = {}) {
  try {
    pp::choose_backend(r, m, s);
  } catch (const pp::Error& e) {
    EXPECT_EQ(e.category(), pp::ErrorCategory::kInvalidInput);
    return e.what();
  }
  return "";
}

TEST(BackendChoice, CpuMachinesUseMpi) {
  const auto c = pp::choose_backend({}, MachineFacts{});
  EXPECT_EQ(c.device, ComputeDevice::kCpu);
  EXPECT_EQ(c.transport, TransportKind::kMpi);
  EXPECT_EQ(pp::choose_backend({"cpu", "mpi"}, gpu_node(8, 8)).transport, TransportKind::kMpi);
}

TEST(BackendChoice, AutoPicksNcclWhenEveryRankHasItsOwnGpu) {
  const auto c = pp::choose_backend({}, gpu_node(8, 8));
  EXPECT_EQ(c.device, ComputeDevice::kCuda);
  EXPECT_EQ(c.transport, TransportKind::kNccl);
}

TEST(BackendChoice, SharedGpusAreStagedThroughHostMemory) {
  EXPECT_EQ(pp::choose_backend({}, gpu_node(1, 4)).transport, TransportKind::kStagedMpi);
  EXPECT_EQ(pp::choose_backend({"cuda", "mpi"}, gpu_node(8, 8)).transport, TransportKind::kStagedMpi);
  MachineFacts no_nccl = gpu_node(8, 8);
  no_nccl.nccl_built = false;
  EXPECT_EQ(pp::choose_backend({}, no_nccl).transport, TransportKind::kStagedMpi);
}

TEST(BackendChoice, AutoStaysOnTheCpuWhenTheGpuCannotTrainAndSaysWhy) {
  const auto c = pp::choose_backend({}, gpu_node(8, 8, false));
  EXPECT_EQ(c.device, ComputeDevice::kCpu);
  EXPECT_NE(c.reason.find("no GPU training yet"), std::string::npos) << c.reason;
}

TEST(BackendChoice, AutoStaysOnTheCpuWhileCudaIsNotTheDefault) {
  MachineFacts m = gpu_node(8, 8);
  m.cuda_by_default = false;
  m.cuda_default_gap = "pass --device cuda";
  const auto c = pp::choose_backend({}, m);
  EXPECT_EQ(c.device, ComputeDevice::kCpu);
  EXPECT_NE(c.reason.find("pass --device cuda"), std::string::npos) << c.reason;
  EXPECT_EQ(pp::choose_backend({"cuda", "auto"}, m).device, ComputeDevice::kCuda);
}

TEST(BackendChoice, SchedulesThatDeadlockNcclAreStagedOrRefused) {
  const pp::ScheduleFacts interleaved{"interleaved", false, "rank 0 waits in the group [...]"};
  const auto c = pp::choose_backend({}, gpu_node(8, 8), interleaved);
  EXPECT_EQ(c.transport, TransportKind::kStagedMpi);
  EXPECT_NE(c.reason.find("deadlock"), std::string::npos) << c.reason;
  EXPECT_NE(error_of({"cuda", "nccl"}, gpu_node(8, 8), interleaved).find("would deadlock NCCL"), std::string::npos);
}

TEST(BackendChoice, PlansTheCudaBackendCannotRunStayOnTheCpu) {
  pp::ScheduleFacts tp2{"1f1b", true, "", "the CUDA backend runs tp 1 only in this version, and the plan has tp 2"};
  const auto c = pp::choose_backend({}, gpu_node(8, 8), tp2);
  EXPECT_EQ(c.device, ComputeDevice::kCpu);
  EXPECT_NE(c.reason.find("tp 1 only"), std::string::npos) << c.reason;
  EXPECT_NE(error_of({"cuda", "auto"}, gpu_node(8, 8), tp2).find("tp 1 only"), std::string::npos);
  EXPECT_EQ(pp::choose_backend({}, gpu_node(8, 8)).device, ComputeDevice::kCuda);  // the same without the gap
}

TEST(BackendChoice, RefusesWhatTheMachineCannotServeNamingTheFlag) {
  EXPECT_NE(error_of({"cuda", "auto"}, MachineFacts{}).find("--device cuda"), std::string::npos);
  EXPECT_NE(error_of({"cuda", "auto"}, gpu_node(0, 2)).find("no usable GPU"), std::string::npos);
  EXPECT_NE(error_of({"cuda", "auto"}, gpu_node(8, 8, false)).find("no GPU training yet"), std::string::npos);
  EXPECT_NE(error_of({"cuda", "nccl"}, gpu_node(1, 4)).find("NCCL refuses two ranks on one GPU"),
            std::string::npos);
  EXPECT_NE(error_of({"cpu", "nccl"}, gpu_node(8, 8)).find("--transport nccl"), std::string::npos);
  EXPECT_NE(error_of({"tpu", "auto"}, gpu_node(8, 8)).find("--device tpu"), std::string::npos);
  EXPECT_NE(error_of({"auto", "gloo"}, gpu_node(8, 8)).find("--transport gloo"), std::string::npos);
  MachineFacts no_nccl = gpu_node(8, 8);
  no_nccl.nccl_built = false;
  EXPECT_NE(error_of({"cuda", "nccl"}, no_nccl).find("without NCCL"), std::string::npos);
}

TEST(BackendChoice, GpusAreCountedPerNodeByIdentity) {
  // Four ranks on a node, each seeing only its own GPU (CUDA_VISIBLE_DEVICES): four GPUs.
  auto c = pp::count_per_node({{"a", {"g0"}}, {"a", {"g1"}}, {"a", {"g2"}}, {"a", {"g3"}}});
  EXPECT_EQ(c.gpus_per_node, 4);
  EXPECT_EQ(c.ranks_per_node, 4);
  // Four ranks seeing the same one GPU: one GPU shared by four ranks.
  c = pp::count_per_node({{"a", {"g0"}}, {"a", {"g0"}}, {"a", {"g0"}}, {"a", {"g0"}}});
  EXPECT_EQ(c.gpus_per_node, 1);
  // Two nodes: the fewest GPUs and the most ranks of any node; no GPU at all is 0.
  c = pp::count_per_node({{"a", {"g0", "g1"}}, {"a", {"g0", "g1"}}, {"b", {"h0"}}, {"b", {"h0"}}, {"b", {"h0"}}});
  EXPECT_EQ(c.gpus_per_node, 1);
  EXPECT_EQ(c.ranks_per_node, 3);
  EXPECT_EQ(pp::count_per_node({{"a", {}}, {"a", {}}}).gpus_per_node, 0);
}

}  // namespace
