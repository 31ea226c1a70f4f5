// The staged transport under mpirun (2 ranks or more): device buffers cross through host staging
// buffers and arrive intact, in order, with receives posted ahead; sums over device buffers; host
// buffers pass through; no staging buffer is left out. "Device" memory here is host memory tagged
// as device (MemorySpace::kDevice), which host code may not read through Buffer::host_data(): so
// any path that skips the staging throws instead of passing by accident.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "pp/error.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/staged_transport.h"
#include "fake_staging.h"

namespace {

using pp::test::FakeStaging;

pp::Buffer fake_device(std::vector<float>& v) { return pp::Buffer::on_device(v.data(), v.size()); }

struct Fixture : ::testing::Test {
  void SetUp() override {
    transport = pp::staged(pp::mpi_world(), &staging);
    ASSERT_GE(transport->size(), 2) << "run under mpirun -np 2 (or more)";
  }
  FakeStaging staging;
  std::unique_ptr<pp::Transport> transport;
};

// Ranks 0 and 1 swap three messages each, with all receives posted before any wait.
TEST_F(Fixture, DeviceMessagesArriveInOrderWithReceivesPostedAhead) {
  const int me = transport->rank();
  if (me > 1) return;
  const int peer = 1 - me;
  constexpr std::size_t kCount = 1000;
  std::vector<std::vector<float>> out(3, std::vector<float>(kCount)), in(3, std::vector<float>(kCount, -1));
  std::vector<pp::Transport::Request> receives, sends;
  for (int m = 0; m < 3; ++m) receives.push_back(transport->irecv(peer, fake_device(in[m])));
  for (int m = 0; m < 3; ++m) {
    for (std::size_t i = 0; i < kCount; ++i) out[m][i] = float(me * 100000 + m * 1000 + i);
    sends.push_back(transport->isend(peer, fake_device(out[m])));
  }
  for (auto r : receives) transport->wait(r);
  for (auto r : sends) transport->wait(r);
  for (int m = 0; m < 3; ++m) {
    for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(in[m][i], float(peer * 100000 + m * 1000 + i));
  }
  EXPECT_EQ(staging.downloads, 3);
  EXPECT_EQ(staging.uploads, 3);
  EXPECT_EQ(staging.host_buffers_out(), 0u);
}

TEST_F(Fixture, StagingBuffersAreReused) {
  const int me = transport->rank();
  if (me > 1) return;
  const int peer = 1 - me;
  std::vector<float> out(64, float(me)), in(64);
  for (int round = 0; round < 5; ++round) {
    const auto r = transport->irecv(peer, fake_device(in));
    const auto s = transport->isend(peer, fake_device(out));
    transport->wait(r);
    transport->wait(s);
    ASSERT_EQ(in[63], float(peer));
  }
  EXPECT_LE(staging.allocations(), 2u);  // one for the send, one for the receive
}

TEST_F(Fixture, DeviceSumsOverEveryRank) {
  const int n = transport->size();
  std::vector<float> values(333, float(transport->rank() + 1));
  transport->allreduce_sum(fake_device(values));
  for (float v : values) ASSERT_EQ(v, float(n * (n + 1) / 2));
  EXPECT_EQ(staging.host_buffers_out(), 0u);
}

// Tensor parallelism's collectives over device buffers: every rank's part in rank order, and each
// rank's part of the sum, against values computed here.
TEST_F(Fixture, DeviceAllGatherAndReduceScatter) {
  const int n = transport->size();
  const int me = transport->rank();
  constexpr std::size_t kPart = 37;
  std::vector<float> mine(kPart), all(kPart * n, -1.0f);
  for (std::size_t i = 0; i < kPart; ++i) mine[i] = float(me * 1000 + i);
  transport->allgather(fake_device(mine), fake_device(all));
  for (int r = 0; r < n; ++r) {
    for (std::size_t i = 0; i < kPart; ++i) ASSERT_EQ(all[r * kPart + i], float(r * 1000 + i));
  }
  std::vector<float> whole(kPart * n), part(kPart, -1.0f);
  for (std::size_t k = 0; k < whole.size(); ++k) whole[k] = float(k + me);  // rank me adds me
  transport->reduce_scatter_sum(fake_device(whole), fake_device(part));
  for (std::size_t i = 0; i < kPart; ++i) {
    ASSERT_EQ(part[i], float(n * (me * kPart + i) + n * (n - 1) / 2)) << i;
  }
  EXPECT_EQ(staging.host_buffers_out(), 0u);
  std::vector<float> short_all(kPart);
  EXPECT_THROW(transport->allgather(fake_device(mine), fake_device(short_all)), pp::Error);
}

TEST_F(Fixture, HostBuffersPassThroughUnstaged) {
  std::vector<float> values(10, 1.0f);
  transport->allreduce_sum(pp::Buffer::on_host(values.data(), values.size()));
  EXPECT_EQ(values[0], float(transport->size()));
  EXPECT_EQ(staging.downloads, 0);
}

TEST_F(Fixture, SplitGroupsAreStagedToo) {
  auto group = transport->split(transport->rank() % 2, transport->rank());
  ASSERT_NE(group, nullptr);
  EXPECT_TRUE(group->accepts(pp::MemorySpace::kDevice));
  std::vector<float> values(7, 2.0f);
  group->allreduce_sum(fake_device(values));
  EXPECT_EQ(values[0], 2.0f * group->size());
}

TEST(MpiTransport, RefusesDeviceMemory) {
  auto world = pp::mpi_world();
  EXPECT_FALSE(world->accepts(pp::MemorySpace::kDevice));
  std::vector<float> values(4);
  EXPECT_THROW(world->allreduce_sum(fake_device(values)), pp::Error);
}

}  // namespace
