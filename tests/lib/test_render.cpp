// The pictures and files made from a timeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
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

// A one-rank timeline whose last event ends at `end_ms` (huge, or not finite).
Timeline long_timeline(double end_ms) {
  Timeline t;
  t.schedule_name = "long";
  t.source = "simulated";
  t.ranks = 1;
  t.microbatches = 1;
  t.events.push_back({0, Lane::kCompute, ActionKind::kForward, 0, 0, -1, 0, end_ms / 2, -1});
  t.events.push_back({0, Lane::kCompute, ActionKind::kBackward, 0, 0, -1, end_ms / 2, end_ms, -1});
  return t;
}

// Every renderer ends, with a bounded output, on a makespan the axis loops once never left
// (infinity: pp simulate --fwd-ms 1e308), and on huge and tiny ones.
TEST(Renderers, EndOnHugeTinyAndNonFiniteMakespans) {
  const double inf = std::numeric_limits<double>::infinity();
  for (double end : {inf, std::numeric_limits<double>::max(), 1e300, 4.9e-324, 1e-310, 1e-9}) {
    const Timeline t = long_timeline(end);
    TimelineMetrics m = compute_metrics(t);
    m.makespan_ms = end;
    const std::string chart = render_gantt(t, {120, false});
    EXPECT_LT(chart.size(), 10000u) << end;
    const std::string svg = render_svg(t, m);
    EXPECT_LT(svg.size(), 20000u) << end;
    EXPECT_EQ(svg.find("nan"), std::string::npos) << end;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << end;
    nlohmann::json trace;
    EXPECT_NO_THROW(trace = nlohmann::json::parse(chrome_trace_json(t, m))) << end;
  }
  EXPECT_NE(render_gantt(long_timeline(inf), {120, false}).find("not a finite number"),
            std::string::npos);
}

// The trace is written in pieces of about one event, and the pieces make the document nlohmann
// would write whole: valid JSON, byte for byte what a parse and dump gives back.
TEST(ChromeTrace, StreamsEventByEventAsOneValidDocument) {
  const Timeline t = sample();
  std::string whole;
  std::size_t pieces = 0;
  std::size_t largest_event = 0;
  write_chrome_trace(t, compute_metrics(t), [&](std::string_view piece) {
    whole += piece;
    ++pieces;
    if (pieces > 1 && piece.find("otherData") == std::string_view::npos) {
      largest_event = std::max(largest_event, piece.size());
    }
  });
  EXPECT_EQ(whole, chrome_trace_json(t, compute_metrics(t)));
  EXPECT_EQ(nlohmann::ordered_json::parse(whole).dump() + "\n", whole);
  EXPECT_GT(pieces, t.events.size());
  EXPECT_LT(largest_event, 400u);
}

TEST(Svg, StreamsElementByElement) {
  const Timeline t = sample();
  std::string whole;
  std::size_t pieces = 0;
  write_svg(t, compute_metrics(t), [&](std::string_view piece) {
    whole += piece;
    ++pieces;
  });
  EXPECT_EQ(whole, render_svg(t, compute_metrics(t)));
  EXPECT_GT(pieces, t.events.size() / 2);
}

}  // namespace
}  // namespace pp
