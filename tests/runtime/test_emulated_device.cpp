// The trainer's device path on the CPU: a backend whose buffers are tagged as device memory (host
// memory underneath, which host code may not read through Buffer::host_data()) trains over the
// staged transport exactly as the CPU backend does over MPI, to the bit: the same checkpoint
// bytes for 1F1B, interleaved 1F1B and ZB-H1 on 4 pipeline ranks, and 2 x 2 with data
// parallelism. So everything between the executor and the transports (device buffers from the
// backend's pool, staged sends and receives, the tied-embedding and data-parallel sums through
// the backend's buffer operations) runs in CI without a GPU. Run under mpirun -np 4.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fake_staging.h"
#include "pp/runtime/backend.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/staged_transport.h"
#include "pp/runtime/trainer.h"
#include "small_gpt2.h"

namespace {

pp::Buffer as_device(const pp::Buffer& host) {
  return host.empty() ? host : pp::Buffer::on_device(host.host_data(), host.count());
}
pp::Buffer as_host(const pp::Buffer& device) {
  if (device.empty()) return device;
  EXPECT_FALSE(device.on_host()) << "the executor passed a buffer that is not the backend's";
  return pp::Buffer::on_host(device.address(), device.count());
}

// The CPU stage model behind device-tagged buffers.
class EmulatedCompute : public pp::StageCompute {
 public:
  explicit EmulatedCompute(pp::StageCompute* inner) : inner_(inner) {}
  bool has_embedding() const override { return inner_->has_embedding(); }
  bool has_head() const override { return inner_->has_head(); }
  void forward(int mb, const std::int32_t* tokens, const pp::Buffer& input, const std::int32_t* targets,
               const pp::Buffer& output) override {
    inner_->forward(mb, tokens, as_host(input), targets, as_host(output));
  }
  double loss_sum(int mb) const override { return inner_->loss_sum(mb); }
  void backward_input(int mb, const pp::Buffer& grad_output, float scale, const pp::Buffer& grad_input) override {
    inner_->backward_input(mb, as_host(grad_output), scale, as_host(grad_input));
  }
  void backward_weight(int mb) override { inner_->backward_weight(mb); }
  std::size_t activation_floats() const override { return inner_->activation_floats(); }
  std::size_t cached_bytes() const override { return inner_->cached_bytes(); }

 private:
  pp::StageCompute* inner_;
};

class EmulatedChunk : public pp::TrainableChunk {
 public:
  explicit EmulatedChunk(std::unique_ptr<pp::TrainableChunk> inner)
      : inner_(std::move(inner)), compute_(&inner_->compute()) {}
  pp::StageCompute& compute() override { return compute_; }
  std::size_t tensor_count() const override { return inner_->tensor_count(); }
  const std::string& tensor_name(std::size_t i) const override { return inner_->tensor_name(i); }
  bool replicated(std::size_t i) const override { return inner_->replicated(i); }
  pp::Buffer gradient(std::size_t i) override { return as_device(inner_->gradient(i)); }
  void zero_grad() override { inner_->zero_grad(); }
  double squared_grad_norm(const std::string& skip) override { return inner_->squared_grad_norm(skip); }
  void optimizer_step(float scale) override { inner_->optimizer_step(scale); }
  void load(const std::string& path, bool state) override { inner_->load(path, state); }
  std::vector<pp::TensorRef> weights() override { return inner_->weights(); }
  std::vector<pp::TensorRef> optimizer_state() override { return inner_->optimizer_state(); }

 private:
  std::unique_ptr<pp::TrainableChunk> inner_;
  EmulatedCompute compute_;
};

class DeviceTaggedPool : public pp::BufferPool {
 public:
  explicit DeviceTaggedPool(std::unique_ptr<pp::BufferPool> host) : host_(std::move(host)) {}
  pp::Buffer acquire() override { return as_device(host_->acquire()); }
  void release(const pp::Buffer& b) override { host_->release(as_host(b)); }
  std::size_t buffer_floats() const override { return host_->buffer_floats(); }
  std::size_t allocations() const override { return host_->allocations(); }
  std::size_t peak_in_use() const override { return host_->peak_in_use(); }

 private:
  std::unique_ptr<pp::BufferPool> host_;
};

class EmulatedDeviceBackend : public pp::Backend {
 public:
  explicit EmulatedDeviceBackend(pp::test::FakeStaging* staging) : cpu_(pp::make_cpu_backend()), staging_(staging) {}
  std::unique_ptr<pp::TrainableChunk> make_chunk(const pp::ChunkSpec& spec) override {
    return std::make_unique<EmulatedChunk>(cpu_->make_chunk(spec));
  }
  std::unique_ptr<pp::BufferPool> activation_pool(std::size_t floats) override {
    return std::make_unique<DeviceTaggedPool>(cpu_->activation_pool(floats));
  }
  void accumulate(const pp::Buffer& y, const pp::Buffer& x) override { cpu_->accumulate(as_host(y), as_host(x)); }
  void copy(const pp::Buffer& to, const pp::Buffer& from) override { cpu_->copy(as_host(to), as_host(from)); }
  std::unique_ptr<pp::Transport> transport_for(std::unique_ptr<pp::Transport> group,
                                               pp::TransportKind kind) override {
    EXPECT_EQ(kind, pp::TransportKind::kStagedMpi);
    return group == nullptr ? nullptr : pp::staged(std::move(group), staging_);
  }
  void synchronize() override {}
  double peak_memory_bytes() const override { return 0; }
  std::string describe() const override { return "CPU behind device-tagged buffers"; }

 private:
  std::unique_ptr<pp::Backend> cpu_;
  pp::test::FakeStaging* staging_;
};

// A plan for the small model: pp pipeline ranks x dp replicas, V chunks each, an even split.
pp::Plan small_plan(const pp::ModelConfig& m, const std::string& schedule, int pp_ranks, int dp, int v) {
  pp::Plan plan;
  plan.model = m.name;
  plan.model_config = m;
  plan.seq_len = 16;
  plan.layout.pp = pp_ranks;
  plan.layout.dp = dp;
  plan.layout.microbatch_size = 2;
  plan.layout.microbatches = 4;
  plan.layout.schedule = schedule;
  plan.layout.virtual_stages = v;
  plan.global_batch = dp * 2 * 4;
  const int stages = pp_ranks * v, layers = m.layers + 2;
  for (int s = 0; s < stages; ++s) {
    pp::StagePlan st;
    st.stage = s;
    st.rank = s % pp_ranks;
    st.first_layer = s * layers / stages;
    st.last_layer = (s + 1) * layers / stages - 1;
    plan.stages.push_back(st);
  }
  return plan;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Trains 3 steps and returns the checkpoint's bytes (on world rank 0; empty elsewhere).
std::string train_and_read(const pp::Plan& plan, const std::string& data, const std::string& save,
                           pp::test::FakeStaging* staging) {
  auto world = pp::mpi_world();
  pp::TrainOptions o;
  o.plan = plan;
  o.model = plan.model_config;
  o.data = data;
  o.steps = 3;
  o.save = save;
  o.progress = false;
  o.watchdog_s = 0;
  if (staging != nullptr) {
    o.test_backend = [staging] { return std::make_unique<EmulatedDeviceBackend>(staging); };
    o.test_transport = pp::TransportKind::kStagedMpi;
  }
  pp::train(o, *world);
  world->barrier();
  return world->rank() == 0 ? read_all(save) : std::string();
}

class EmulatedDevice : public ::testing::TestWithParam<std::tuple<std::string, int, int, int>> {};

TEST_P(EmulatedDevice, TrainsToTheCpuBackendsBits) {
  auto world = pp::mpi_world();
  ASSERT_EQ(world->size(), 4) << "run under mpirun -np 4";
  const auto& [schedule, pp_ranks, dp, v] = GetParam();
  const pp::ModelConfig m = pp::test::small_gpt2(32, 6, 2, 64, 16);
  const std::string dir = "/tmp/pp-emulated-" + std::to_string(getppid());
  const std::string data = dir + "-tokens.bin";
  if (world->rank() == 0) {
    std::ofstream out(data, std::ios::binary);
    for (int i = 0; i < 4096; ++i) {
      const std::uint16_t t = static_cast<std::uint16_t>((i * 37 + 11) % m.vocab);
      out.write(reinterpret_cast<const char*>(&t), sizeof t);
    }
  }
  world->barrier();
  const pp::Plan plan = small_plan(m, schedule, pp_ranks, dp, v);
  const std::string on_cpu = train_and_read(plan, data, dir + "-cpu.safetensors", nullptr);
  pp::test::FakeStaging staging;
  const std::string on_device = train_and_read(plan, data, dir + "-device.safetensors", &staging);
  EXPECT_GT(staging.downloads + staging.uploads, 0);
  EXPECT_EQ(staging.host_buffers_out(), 0u);
  if (world->rank() == 0) {
    ASSERT_FALSE(on_cpu.empty());
    EXPECT_TRUE(on_cpu == on_device) << "the checkpoints differ";
    std::remove((dir + "-cpu.safetensors").c_str());
    std::remove((dir + "-device.safetensors").c_str());
    std::remove(data.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, EmulatedDevice,
                         ::testing::Values(std::make_tuple(std::string("1f1b"), 4, 1, 1),
                                           std::make_tuple(std::string("interleaved"), 4, 1, 2),
                                           std::make_tuple(std::string("zb-h1"), 4, 1, 1),
                                           std::make_tuple(std::string("1f1b"), 2, 2, 1)));

}  // namespace
