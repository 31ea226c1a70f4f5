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

namespace {

// Which of the newer schedules pp run can put on NCCL (its rendezvous sends): ZB-H2 completes on
// every K x M tried; those with two chunks per rank do not everywhere, and pp run then keeps them
// off the GPU backend with the stuck group named (the trainer checks each plan's lowered list
// before it picks the backend).
bool completes_everywhere(const char* name, int chunks) {
  for (int k : {2, 3, 4, 8}) {
    for (int m : {2 * k, 3 * k, 4 * k + 1}) {
      if (!verdict(name, k, m, chunks).completes) return false;
    }
  }
  return true;
}

TEST(IssueOrder, NewerSchedulesOverNccl) {
  EXPECT_TRUE(completes_everywhere("zb-h2", 1));
  // Two chunks per rank: like interleaved 1F1B's, these lowerings wait across groups.
  EXPECT_FALSE(completes_everywhere("dualpipev", 2));
  EXPECT_FALSE(completes_everywhere("zb-v", 2));
  for (const char* name : {"zb1p", "looped-bfs", "zb-v", "v-half", "v-min", "dualpipev"}) {
    SCOPED_TRACE(name);
    for (int k : {2, 3, 4}) {
      const auto v = verdict(name, k, 4 * k, 2);
      if (!v.completes) {
        EXPECT_NE(v.stuck.find("waits in the group"), std::string::npos) << v.stuck;
      }
    }
  }
}

}  // namespace
