#pragma once
// The Slurm allocation a `pp run` task was started in (srun: one task per pipeline rank, GPU or
// CPU), read from Slurm's environment variables, and the ways it can fail to match a plan. Pure:
// the caller passes the environment. docs/slurm.md.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pp/plan.h"

namespace pp {

struct SlurmAllocation {
  std::string job_id;                 // SLURM_JOB_ID
  int tasks = 0;                      // SLURM_STEP_NUM_TASKS: tasks of this srun step
  std::vector<int> tasks_per_node;    // SLURM_STEP_TASKS_PER_NODE expanded: one entry per node
  std::optional<int> gpus_per_task;   // SLURM_GPUS_PER_TASK, when the job asked for it
  std::optional<int> gpus_on_node;    // SLURM_GPUS_ON_NODE, when the node has GPUs allocated
  int task_id = 0;                    // SLURM_PROCID
  int restart_count = 0;              // SLURM_RESTART_COUNT: how often the job was requeued
};

// Returns the allocation when this process is a task of an srun step (SLURM_STEP_NUM_TASKS and
// SLURM_PROCID set) and was not started by mpirun (no OMPI_COMM_WORLD_SIZE: mpirun's ranks run
// inside its own daemons' step, whose counts are not the ranks'). `env` reads a variable, null
// when unset. Throws pp::Error(kInvalidInput) naming the variable when one is malformed.
std::optional<SlurmAllocation> read_slurm_allocation(const std::function<const char*(const char*)>& env);

// Slurm's compressed per-node counts, "4(x2),3" -> {4, 4, 3}. Throws pp::Error(kInvalidInput).
std::vector<int> expand_tasks_per_node(const std::string& text);

// What does not match between the allocation and the plan, one sentence each naming the srun or
// sbatch option to change (empty when it matches):
//  - the step's task count is not the plan's ranks (tp x pp x dp);
//  - with nodes of several tasks, a node's task count is not a multiple of tp (tensor-parallel
//    groups are consecutive ranks and must not span nodes);
//  - more tasks on a node than the plan's cluster has GPUs per node;
//  - on GPUs (`gpus` true): other than one GPU per task, or fewer GPUs on a node than its tasks.
std::vector<std::string> allocation_mismatches(const SlurmAllocation& allocation, const Plan& plan, bool gpus);

}  // namespace pp
