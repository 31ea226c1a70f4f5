#pragma once
// Test helper shared by the planner tests: a plan request for a shipped model on a shipped
// cluster, with the memory limit at 92% of the device's memory.
#include "pp/cluster.h"
#include "pp/model.h"
#include "pp/planner/plan_search.h"

namespace pp {

inline PlanRequest request(const char* model, const char* cluster, int gpus, int batch, int seq) {
  PlanRequest r;
  r.model = load_model(model);
  r.cluster = load_cluster(cluster);
  r.gpus = gpus;
  r.global_batch = batch;
  r.seq_len = seq;
  r.memory_limit_bytes = r.cluster.gpu.memory_bytes * 0.92;
  return r;
}

}  // namespace pp
