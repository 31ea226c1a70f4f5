// NCCL's point-to-point semantics over the lowered lists: GPipe, 1F1B and ZB-H1 complete with
// groups issued in list order and rendezvous sends; interleaved 1F1B's lowering does not (two
// ranks each wait in a group for a send the other issues only in its next group), which is why
// pp run does not put it on NCCL.
#include <gtest/gtest.h>

#include "pp/issue_order.h"
#include "pp/lowering.h"
#include "pp/schedule_generators.h"

namespace {

pp::IssueOrderVerdict verdict(const char* name, int ranks, int microbatches, int chunks = 1) {
  return pp::check_grouped_rendezvous(
      pp::lower_communication(pp::generate_schedule(name, {ranks, microbatches, chunks})));
}

TEST(IssueOrder, GpipeOneFOneBAndZeroBubbleCompleteOverNccl) {
  for (const char* name : {"gpipe", "1f1b", "zb-h1"}) {
    for (int k : {2, 3, 4, 8}) {
      for (int m : {1, 2, 3, 4, 8, 16, 32}) {
        const auto v = verdict(name, k, m);
        EXPECT_TRUE(v.completes) << name << " K=" << k << " M=" << m << ": " << v.stuck;
      }
    }
  }
}

TEST(IssueOrder, InterleavedLoweringCanDeadlockRendezvousSends) {
  const auto v = verdict("interleaved", 2, 4, 2);
  EXPECT_FALSE(v.completes);
  EXPECT_NE(v.stuck.find("waits in the group"), std::string::npos) << v.stuck;
}

TEST(IssueOrder, OneRankHasNothingToWaitFor) { EXPECT_TRUE(verdict("1f1b", 1, 4).completes); }

}  // namespace
