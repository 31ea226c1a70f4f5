#pragma once
// Training a GPT-2 model under a plan: one rank per pipeline stage times data-parallel replicas
// (world rank = stage * dp + replica), each running its lowered action list through the
// Executor, with gradient reductions and one AdamW step per global batch.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pp/model.h"
#include "pp/plan.h"
#include "pp/runtime/adamw.h"
#include "pp/runtime/backend.h"
#include "pp/runtime/backend_choice.h"
#include "pp/runtime/transport.h"
#include "pp/timeline.h"

namespace pp {

struct TrainOptions {
  Plan plan;
  ModelConfig model;
  std::string data;             // token file (uint16; raw or with llm.c's header)
  int steps = 10;               // optimizer steps in all (a resumed run continues to this)
  AdamWOptions adamw;
  double grad_clip = 0;         // global gradient-norm clipping; 0: off
  std::uint64_t init_seed = 1337;
  std::string load;             // initial weights (safetensors, Hugging Face GPT-2 names)
  std::string save;             // checkpoint written at the end (and every save_every steps)
  int save_every = 0;
  bool resume = false;          // continue from `save` when it exists
  int recv_lookahead = 8;
  bool progress = true;         // a line per step on world rank 0 (stderr)
  double watchdog_s = 600;      // end the job when a rank waits this long for another; 0: off
  BackendRequest backend;       // --device, --transport
  bool allow_tf32 = false;      // CUDA: TF32 tensor cores for fp32 matrix products
  // Signals (numbers) that stop the run cleanly: every rank finishes the step in flight, the
  // checkpoint `save` is written, and train() returns with TrainSummary::stop_signal set.
  std::vector<int> stop_signals;
  // Tests only: a backend to train on instead of the one `backend` names, and the transport its
  // buffers need (e.g. a CPU backend whose buffers are tagged as device memory, over kStagedMpi).
  std::function<std::unique_ptr<Backend>()> test_backend;
  TransportKind test_transport = TransportKind::kMpi;
};

// Bytes a rank puts on the wire, by communicator (ring-algorithm counts, as
// train/metered_transport.h defines them).
struct Traffic {
  double pipeline = 0;  // activations and gradients between stages
  double tensor = 0;    // the tensor-parallel collectives inside the stages' compute
  double data = 0;      // the data-parallel gradient all-reduce
  double tied = 0;      // the tied embedding's gradient between the first and last stage
  double total() const { return pipeline + tensor + data + tied; }
};

struct TrainSummary {
  int first_step = 0;                 // 0, or where a resumed run started
  std::vector<double> losses;         // mean token loss of each step run
  std::vector<double> step_ms;        // wall time of each step
  Timeline last_step;                 // measured, replica 0's pipeline (world rank 0 only)
  double peak_rss_bytes = 0;          // the largest over ranks (world rank 0 only)
  double peak_device_bytes = 0;       // GPU: weights, gradients, AdamW state and the peak of activations
                                      // held, the largest over ranks (world rank 0); 0 on the CPU
  std::vector<std::string> weights;   // world rank 0: checkpoint paths written
  BackendChoice backend;              // what ran: device, transport and why
  Traffic traffic_per_step;           // the last step's, per rank: the mean over ranks (world rank 0)
  double message_bytes = 0;           // one pipeline message (a micro-batch's activation piece)
  int stop_signal = 0;                // the stop signal that ended the run early; 0: it ran to `steps`
};

// Collective over `world`. Throws pp::Error (kInvalidInput) for a rank count that does not match
// the plan, a plan that does not fit the model, a missing or short token file or one with a token
// outside the vocabulary, a checkpoint with missing or mis-shaped tensors; pp::Error(kRuntime)
// when the loss becomes non-finite (nothing is saved after the last good checkpoint). A rank that
// waits longer than watchdog_s for another ends the job (exit 5). A stop signal ends the run after
// the step in flight, with the checkpoint written (TrainSummary::stop_signal).
TrainSummary train(const TrainOptions& options, Transport& world);

// "SIGUSR1" for SIGUSR1 (TrainSummary::stop_signal in messages).
std::string signal_name(int signal);

}  // namespace pp
