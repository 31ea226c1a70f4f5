#include "pp/runtime/trainer.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "pp/error.h"
#include "pp/file_io.h"
#include "pp/issue_order.h"
#include "pp/lowering.h"
#include "pp/runtime/backend.h"
#include "pp/runtime/executor.h"
#include "pp/runtime/mpi_transport.h"
#include "pp/runtime/token_data.h"
#include "pp/schedule_generators.h"
#include "pp/validator.h"
#include "tensor_exchange.h"
#include "train/checkpointing.h"
#include "train/gradients.h"
#include "train/rank_setup.h"
#include "train/stop_signals.h"
#include "train/watchdog.h"

namespace pp {
namespace {

// What of the plan the CUDA backend does not run in this version ("" if nothing).
std::string cuda_gap(const ModelConfig& model, const Layout& l) {
  if (model.family != ModelFamily::kGpt2) {
    return fmt::format("the CUDA backend runs GPT-2 models only in this version, and {} is a Llama model",
                       model.name);
  }
  if (l.tp > 1) return fmt::format("the CUDA backend runs tp 1 only in this version, and the plan has tp {}", l.tp);
  return "";
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss * 1024.0;
}

class Run {
 public:
  Run(const TrainOptions& o, Transport& world, Watchdog* dog) : o_(o), world_(world), dog_(dog) {
    check_layout(o, world);
    const Layout& l = o.plan.layout;
    const RankPlace place = rank_place(l, world.rank());
    stage_ = place.stage;
    replica_ = place.replica;
    tp_rank_ = place.tp_rank;
    const ScheduleSpec spec{l.pp, l.microbatches, l.virtual_stages};
    try {
      check_schedule_size(l.schedule, spec);  // before any memory is taken
    } catch (const Error& e) {
      throw_invalid(fmt::format("the plan's schedule is too large to run ({})", e.what()));
    }
    schedule_ = lower_communication(generate_schedule(l.schedule, spec));
    const IssueOrderVerdict nccl_order = check_grouped_rendezvous(schedule_);
    backend_ = choose_backend(o.backend, gather_machine_facts(world),
                              {l.schedule, nccl_order.completes, nccl_order.stuck, cuda_gap(o.model, l)});
    if (world.rank() == 0 && o.progress) fmt::print(stderr, "pp run: {}\n", backend_.reason);
    data_ = std::make_unique<TokenData>(TokenData::open(o.data));
    if (world.rank() == 0) {
      data_->check_vocabulary(o.model.vocab);
      if (!o.save.empty()) remove_stale_temporaries(o.save);
    }
    backend_impl_ = o.test_backend ? o.test_backend() : make_backend(backend_.device, o.allow_tf32);
    if (o.test_backend) backend_.transport = o.test_transport;
    groups_ = make_groups(world, schedule_, l, place, dog, *backend_impl_, backend_.transport, &traffic_);
    chunks_ = make_chunks(o, schedule_, stage_, groups_.tensor.get(), *backend_impl_);
    first_step_ = o.resume ? resume_step() : 0;
    ExecutorSetup setup;
    setup.schedule = &schedule_;
    setup.pipeline_rank = stage_;
    for (Chunk& c : chunks_) setup.chunks.push_back(&c.state->compute());
    buffers_ = backend_impl_->activation_pool(chunks_.front().state->compute().activation_floats());
    setup.buffers = buffers_.get();
    setup.pipeline = groups_.pipeline.get();
    setup.microbatch_size = l.microbatch_size;
    setup.seq_len = o.plan.seq_len;
    setup.recv_lookahead = o.recv_lookahead;
    setup.drain = [this] { drain_device(); };
    executor_ = std::make_unique<Executor>(std::move(setup));
  }

  TrainSummary run() {
    TrainSummary summary;
    summary.first_step = first_step_;
    summary.backend = backend_;
    std::vector<TimelineEvent> last_events;
    if (first_step_ >= o_.steps && world_.rank() == 0 && o_.progress) {
      fmt::print(stderr, "the checkpoint is at step {}, at or past --steps {}: nothing to run\n",
                 first_step_, o_.steps);
    }
    for (int step = first_step_; step < o_.steps; ++step) {
      const auto start = std::chrono::steady_clock::now();
      dog_->arm(true);
      const Traffic before = traffic_;
      StepRecord record = one_step(step);
      drain_device();  // the step's device work is done before it is timed
      last_step_traffic_ = {traffic_.pipeline - before.pipeline, traffic_.tensor - before.tensor,
                            traffic_.data - before.data, traffic_.tied - before.tied};
      double loss = tp_rank_ == 0 ? record.loss_sum : 0.0;  // every tp rank of the head has the loss
      world_.allreduce_sum(&loss, 1);
      loss /= double(o_.plan.global_batch) * o_.plan.seq_len;
      if (!std::isfinite(loss)) {
        throw_runtime(fmt::format("the loss became {} at step {}: training diverged (a lower --lr, --grad-clip, "
                                  "or other data may help); nothing after the last checkpoint is saved",
                                  loss, step + 1));
      }
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      summary.losses.push_back(loss);
      summary.step_ms.push_back(ms);
      last_events = std::move(record.events);
      dog_->arm(false);  // checkpoints and the end of the run wait on rank 0's file work
      report(step, loss, ms);
      if (o_.save_every > 0 && (step + 1) % o_.save_every == 0 && !o_.save.empty()) {
        save(step + 1, &summary);
      }
      summary.stop_signal = stop_.agreed(world_);
      if (summary.stop_signal != 0) break;
    }
    const int done = first_step_ + static_cast<int>(summary.losses.size());
    if (!o_.save.empty() && done > first_step_ && saved_step_ != done) save(done, &summary);
    gather_timeline(last_events, &summary);
    gather_resources(&summary);
    summary.message_bytes = 4.0 * double(chunks_.front().state->compute().activation_floats());
    return summary;
  }

 private:
  StepRecord one_step(int step) {
    current_step_ = step;
    const Layout& l = o_.plan.layout;
    data_->global_batch(step, o_.plan.global_batch, o_.plan.seq_len, &inputs_, &targets_);
    const std::size_t rows_per_replica = std::size_t(l.microbatch_size) * l.microbatches;
    const std::size_t offset = replica_ * rows_per_replica * o_.plan.seq_len;
    for (Chunk& c : chunks_) c.state->zero_grad();
    StepInputs in;
    in.tokens = inputs_.data() + offset;
    in.targets = targets_.data() + offset;
    in.loss_scale = static_cast<float>(1.0 / (double(o_.plan.global_batch) * o_.plan.seq_len));
    return executor_->run_step(in, [this](ActionKind kind) {
      if (kind == ActionKind::kReduceGradients) {
        if (o_.plan.layout.sequence_parallel) reduce_replicated(chunks_, *groups_.tensor);
        reduce_tied(chunks_, tied_name_, groups_.tied.get(), *backend_impl_);
        reduce_data_parallel(chunks_, *groups_.data);
      } else {
        optimizer_step();
      }
    });
  }

  // The norm is taken even without clipping: a non-finite gradient stops the run before it can
  // reach the weights (and from there a checkpoint). Every rank of the pipeline sees the same sum.
  void optimizer_step() {
    drain_device();  // the reductions' transfers, watched, before the norm reads the gradients
    const double squared_norm = global_squared_norm(chunks_, tied_name_, *groups_.pipeline, *groups_.tensor);
    if (!std::isfinite(squared_norm)) {
      throw_runtime(fmt::format("the gradients became non-finite at step {}: training diverged (a lower --lr, "
                                "--grad-clip, or other data may help); the weights are left as they were after "
                                "step {} and nothing after the last checkpoint is saved",
                                current_step_ + 1, current_step_));
    }
    const float scale = o_.grad_clip > 0 ? clip_scale(squared_norm, o_.grad_clip) : 1.0f;
    for (Chunk& c : chunks_) c.state->optimizer_step(scale);
  }

  // Waits for the device's queued work under the watchdog: on a GPU a stuck transfer (a dead peer,
  // a lost message) shows only here, since the transports' waits return at once.
  void drain_device() {
    dog_->waiting("the GPU's queued work (the step's compute and transfers)");
    backend_impl_->synchronize();
    dog_->progressed();
  }

  void report(int step, double loss, double ms) const {
    if (!o_.progress || world_.rank() != 0) return;
    const double tokens = double(o_.plan.global_batch) * o_.plan.seq_len;
    fmt::print(stderr, "step {:>5}/{}  loss {:.4f}  {:>9.0f} tokens/s  {:>8.1f} ms\n", step + 1,
               o_.steps, loss, tokens / (ms / 1e3), ms);
  }

  // The largest memory over ranks and the mean traffic per rank, at world rank 0.
  void gather_resources(TrainSummary* summary) {
    const Traffic& t = last_step_traffic_;
    const double mine[6] = {peak_rss_bytes(), backend_impl_->peak_memory_bytes(), t.pipeline, t.tensor, t.data, t.tied};
    const std::vector<std::string> all =
        world_.gather_bytes(std::string(reinterpret_cast<const char*>(mine), sizeof mine));
    Traffic& mean = summary->traffic_per_step;
    for (const std::string& bytes : all) {
      double theirs[6] = {0, 0, 0, 0, 0, 0};
      std::memcpy(theirs, bytes.data(), std::min(bytes.size(), sizeof theirs));
      summary->peak_rss_bytes = std::max(summary->peak_rss_bytes, theirs[0]);
      summary->peak_device_bytes = std::max(summary->peak_device_bytes, theirs[1]);
      const double share = 1.0 / double(all.size());
      mean = {mean.pipeline + theirs[2] * share, mean.tensor + theirs[3] * share, mean.data + theirs[4] * share,
              mean.tied + theirs[5] * share};
    }
  }

  int resume_step();
  void save(int step, TrainSummary* summary) {
    save_checkpoint(world_, chunks_, tied_name_, replica_, step, o_.save, o_.model.name);
    saved_step_ = step;
    if (world_.rank() == 0) summary->weights.push_back(o_.save);
  }
  void gather_timeline(const std::vector<TimelineEvent>& events, TrainSummary* summary);

  const TrainOptions& o_;
  Transport& world_;
  Watchdog* dog_;
  BackendChoice backend_;
  std::unique_ptr<Backend> backend_impl_;  // before the groups and chunks, which use it to the end
  Traffic traffic_;                        // counted by the groups: before them
  Traffic last_step_traffic_;
  int stage_ = 0;
  int replica_ = 0;
  int tp_rank_ = 0;
  const std::string tied_name_ = tied_embedding_name(o_.model);
  int first_step_ = 0;
  int current_step_ = 0;
  int saved_step_ = -1;                    // the step of the checkpoint last written by this run
  StopSignals stop_{o_.stop_signals};      // handlers from set-up on: a signal then stops after step 1
  Schedule schedule_;
  std::unique_ptr<TokenData> data_;
  Groups groups_;
  std::vector<Chunk> chunks_;
  std::unique_ptr<BufferPool> buffers_;
  std::unique_ptr<Executor> executor_;
  std::vector<std::int32_t> inputs_, targets_;
};

// Rank 0 decides whether there is a checkpoint to resume from and at which step, and tells every
// rank, so that all start together (a rank that cannot read the file then fails and aborts all).
int Run::resume_step() {
  double step = -1;
  std::error_code ec;
  if (world_.rank() == 0 && !o_.save.empty()) {
    const bool exists = std::filesystem::exists(o_.save, ec);
    if (ec) throw_io(fmt::format("cannot tell whether checkpoint '{}' exists: {}", o_.save, ec.message()));
    if (exists) step = checkpoint_step(o_.save, o_.model.name);
  }
  world_.broadcast(&step, 1, 0);
  if (step < 0) return 0;
  for (Chunk& c : chunks_) c.state->load(o_.save, true);
  return static_cast<int>(step);
}

void Run::gather_timeline(const std::vector<TimelineEvent>& events, TrainSummary* summary) {
  const std::string mine = replica_ == 0 && tp_rank_ == 0 ? serialize_events(events) : std::string();
  const std::vector<std::string> all = world_.gather_bytes(mine);
  if (world_.rank() != 0) return;
  Timeline& t = summary->last_step;
  t.schedule_name = schedule_.name;
  t.source = "measured";
  t.ranks = schedule_.ranks;
  t.microbatches = schedule_.microbatches;
  t.chunks_per_rank = schedule_.chunks_per_rank;
  for (const std::string& bytes : all) append_events(bytes, &t.events);
}

}  // namespace

TrainSummary train(const TrainOptions& options, Transport& world) {
  // Declared outside the try: on an error the handler aborts the job while this rank's posted
  // receives still have their buffers (the executor's) and its communicators still exist;
  // unwinding first would free memory that MPI may yet write into.
  std::optional<Watchdog> dog;
  std::unique_ptr<Transport> watched_world;
  std::optional<Run> run;
  const auto end_job = [&world](const std::string& message, ErrorCategory category) {
    fmt::print(stderr, "error: rank {}: {}\n", world.rank(), message);
    std::fflush(stderr);
    mpi_abort(exit_code(category));
  };
  try {
    dog.emplace(options.watchdog_s, world.rank());
    watched_world = watched(world, &*dog, "world", "rank");
    run.emplace(options, *watched_world, &*dog);
    return run->run();
  } catch (const Error& e) {
    if (world.size() > 1) end_job(e.what(), e.category());
    throw;
  } catch (const std::exception& e) {
    if (world.size() > 1) end_job(std::string("internal: ") + e.what(), ErrorCategory::kInternal);
    throw;
  }
}

}  // namespace pp
