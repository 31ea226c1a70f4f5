// The pictures and files made from a timeline.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "pp/timeline_render.h"

namespace pp {
namespace {

// A 2-rank, 2-micro-batch GPipe-like timeline with one transfer each way per micro-batch.
Timeline sample() {
  Timeline t;
  t.schedule_name = "a<b&c";
  t.source = "simulated";
  t.ranks = 2;
  t.microbatches = 2;
  std::int64_t flow = 0;
  for (int mb = 0; mb < 2; ++mb) {
    const double f0 = mb;
    t.events.push_back({0, Lane::kCompute, ActionKind::kForward, mb, 0, -1, f0, f0 + 1, -1});
    t.events.push_back({0, Lane::kComm, ActionKind::kSendActivation, mb, 0, 1, f0 + 1, f0 + 1.5, flow});
    t.events.push_back({1, Lane::kComm, ActionKind::kRecvActivation, mb, 0, 0, f0 + 1, f0 + 1.5, flow++});
    t.events.push_back({1, Lane::kCompute, ActionKind::kForward, mb, 0, -1, f0 + 1.5, f0 + 2.5, -1});
  }
  for (int mb = 0; mb < 2; ++mb) {
    t.events.push_back({1, Lane::kCompute, ActionKind::kBackward, mb, 0, -1, 3.5 + 2.0 * mb, 5.5 + 2.0 * mb, -1});
    t.events.push_back({1, Lane::kComm, ActionKind::kSendGradient, mb, 0, 0, 5.5 + 2.0 * mb, 6.0 + 2 * mb, flow});
    t.events.push_back({0, Lane::kComm, ActionKind::kRecvGradient, mb, 0, 1, 2.0 + 4 * mb, 6.0 + 2 * mb, flow++});
    t.events.push_back({0, Lane::kCompute, ActionKind::kBackward, mb, 0, -1, 6.0 + 2 * mb, 8.0 + 2 * mb, -1});
  }
  return t;
}

TEST(Gantt, FitsTheWidthWithARowPerRank) {
  const Timeline t = sample();
  for (int width : {80, 120, 200, 40, 500}) {
    const std::string chart = render_gantt(t, {width, false});
    std::istringstream lines(chart);
    std::string line;
    int rows = 0;
    const std::size_t limit = std::clamp(width, 80, 200);
    while (std::getline(lines, line)) {
      if (line.rfind("r", 0) == 0 && line.find('|') != std::string::npos) ++rows;
      if (line.find("F forward") == std::string::npos) {
        EXPECT_LE(line.size(), limit) << line;
      }
    }
    EXPECT_EQ(rows, 2);
    EXPECT_NE(chart.find("F0"), std::string::npos);
    EXPECT_NE(chart.find("B1"), std::string::npos);
  }
}

TEST(Gantt, ColourOnlyWhenAsked) {
  EXPECT_EQ(render_gantt(sample(), {120, false}).find('\x1b'), std::string::npos);
  EXPECT_NE(render_gantt(sample(), {120, true}).find('\x1b'), std::string::npos);
}

TEST(ChromeTrace, SlicesFlowsCountersAndMetadata) {
  const Timeline t = sample();
  const auto doc = nlohmann::json::parse(chrome_trace_json(t, compute_metrics(t)));
  int slices = 0, starts = 0, finishes = 0, counters = 0, names = 0;
  for (const auto& e : doc.at("traceEvents")) {
    const std::string ph = e.at("ph");
    slices += ph == "X";
    starts += ph == "s";
    finishes += ph == "f";
    counters += ph == "C";
    names += ph == "M";
    if (ph == "X") {
      EXPECT_GE(e.at("dur").get<double>(), 0);
    }
  }
  EXPECT_EQ(slices, static_cast<int>(t.events.size()));
  EXPECT_EQ(starts, 4);
  EXPECT_EQ(finishes, 4);
  EXPECT_GT(counters, 0);
  EXPECT_GT(names, 0);
  EXPECT_EQ(doc.at("otherData").at("schema"), "pp.trace");
  EXPECT_DOUBLE_EQ(doc.at("otherData").at("metrics").at("makespan_ms").get<double>(), 10);
}

TEST(Svg, SelfContainedAndEscaped) {
  const Timeline t = sample();
  const std::string svg = render_svg(t, compute_metrics(t));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b&amp;c"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("F0&gt;r1"), std::string::npos);  // labels in titles are escaped too
  EXPECT_NE(svg.find("rank 1"), std::string::npos);
  EXPECT_NE(svg.find("time (ms)"), std::string::npos);
}

}  // namespace
}  // namespace pp
