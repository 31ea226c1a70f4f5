// Reading a Slurm step's allocation from its environment, and matching it against a plan.
#include <gtest/gtest.h>

#include <map>

#include "pp/error.h"
#include "pp/slurm.h"

namespace pp {
namespace {

using Env = std::map<std::string, std::string>;

std::optional<SlurmAllocation> read(const Env& env) {
  return read_slurm_allocation([&env](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

Plan plan_of(int tp, int pp, int dp, int gpus_per_node) {
  Plan plan;
  plan.layout.tp = tp;
  plan.layout.pp = pp;
  plan.layout.dp = dp;
  plan.cluster_spec.name = "test-cluster";
  plan.cluster_spec.gpus_per_node = gpus_per_node;
  return plan;
}

SlurmAllocation allocation(std::vector<int> per_node) {
  SlurmAllocation a;
  for (int n : per_node) a.tasks += n;
  a.tasks_per_node = std::move(per_node);
  return a;
}

TEST(Slurm, ExpandsCompressedTaskCounts) {
  EXPECT_EQ(expand_tasks_per_node("4"), (std::vector<int>{4}));
  EXPECT_EQ(expand_tasks_per_node("4(x2),3"), (std::vector<int>{4, 4, 3}));
  EXPECT_EQ(expand_tasks_per_node("2,1(x3)"), (std::vector<int>{2, 1, 1, 1}));
  for (const char* bad : {"", "x", "4(x)", "4(x2", "4,,2", "-1", "4(x0)"}) {
    EXPECT_THROW(expand_tasks_per_node(bad), Error) << bad;
  }
}

TEST(Slurm, OnlyAnSrunTaskHasAnAllocation) {
  EXPECT_FALSE(read({}));
  EXPECT_FALSE(read({{"SLURM_JOB_ID", "7"}, {"SLURM_NTASKS", "4"}}));  // the batch script itself
  const Env srun = {{"SLURM_JOB_ID", "7"}, {"SLURM_STEP_NUM_TASKS", "4"}, {"SLURM_PROCID", "2"},
                    {"SLURM_STEP_TASKS_PER_NODE", "2(x2)"}, {"SLURM_RESTART_COUNT", "1"}};
  const std::optional<SlurmAllocation> a = read(srun);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->job_id, "7");
  EXPECT_EQ(a->tasks, 4);
  EXPECT_EQ(a->task_id, 2);
  EXPECT_EQ(a->restart_count, 1);
  EXPECT_EQ(a->tasks_per_node, (std::vector<int>{2, 2}));
  EXPECT_FALSE(a->gpus_per_task);
  Env under_mpirun = srun;
  under_mpirun["OMPI_COMM_WORLD_SIZE"] = "4";
  EXPECT_FALSE(read(under_mpirun));
}

TEST(Slurm, MalformedVariablesAreNamed) {
  Env env = {{"SLURM_STEP_NUM_TASKS", "four"}, {"SLURM_PROCID", "0"}};
  try {
    read(env);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SLURM_STEP_NUM_TASKS"), std::string::npos) << e.what();
  }
  env = {{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "0"}, {"SLURM_GPUS_PER_TASK", "h100:1"}};
  EXPECT_EQ(read(env)->gpus_per_task, 1);
}

TEST(Slurm, AMatchingAllocationHasNoMismatch) {
  EXPECT_TRUE(allocation_mismatches(allocation({4}), plan_of(1, 4, 1, 8), true).empty());
  EXPECT_TRUE(allocation_mismatches(allocation({8, 8}), plan_of(8, 2, 1, 8), true).empty());
}

TEST(Slurm, TaskCountMismatchSaysBothRemedies) {
  const auto problems = allocation_mismatches(allocation({2}), plan_of(1, 4, 1, 8), false);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("Slurm started 2 tasks but the plan needs tp x pp x dp = 1 x 4 x 1 = 4"), std::string::npos)
      << problems[0];
  EXPECT_NE(problems[0].find("srun -n 4"), std::string::npos);
  EXPECT_NE(problems[0].find("pp plan --gpus 2"), std::string::npos);
}

TEST(Slurm, TensorParallelGroupsStayWithinANode) {
  const auto problems = allocation_mismatches(allocation({6, 6}), plan_of(4, 3, 1, 8), false);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("not a multiple of the plan's tp 4"), std::string::npos) << problems[0];
  // One node: any tp fits inside it.
  EXPECT_TRUE(allocation_mismatches(allocation({6}), plan_of(3, 2, 1, 8), false).empty());
}

TEST(Slurm, NoMoreTasksOnANodeThanTheClusterHasGpus) {
  const auto problems = allocation_mismatches(allocation({16}), plan_of(1, 16, 1, 8), false);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("test-cluster has 8 GPUs per node"), std::string::npos) << problems[0];
}

TEST(Slurm, OneGpuPerTaskOnGpus) {
  SlurmAllocation a = allocation({4});
  a.gpus_per_task = 2;
  a.gpus_on_node = 2;
  const Plan plan = plan_of(1, 4, 1, 8);
  EXPECT_EQ(allocation_mismatches(a, plan, true).size(), 2u);
  EXPECT_TRUE(allocation_mismatches(a, plan, false).empty());  // the CPU ignores GPUs
}

}  // namespace
}  // namespace pp
