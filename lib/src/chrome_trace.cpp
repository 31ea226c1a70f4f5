#include <nlohmann/json.hpp>

#include "kind_style.h"
#include "pp/timeline_json.h"
#include "pp/timeline_render.h"

namespace pp {
namespace {

using json = nlohmann::ordered_json;

constexpr int kComputeThread = 0;
constexpr int kRecvThread = 1;
int send_thread(int peer) { return 2 + peer; }

int thread_of(const TimelineEvent& e) {
  if (e.lane == Lane::kCompute) return kComputeThread;
  return is_send(e.kind) ? send_thread(e.peer) : kRecvThread;
}

std::string event_name(const TimelineEvent& e, int chunks_per_rank) {
  return action_label({e.kind, e.microbatch, e.chunk, e.peer}, chunks_per_rank);
}

void add_metadata(const Timeline& t, json* events) {
  std::vector<std::vector<bool>> send_threads(t.ranks, std::vector<bool>(t.ranks, false));
  for (const TimelineEvent& e : t.events) {
    if (is_send(e.kind) && e.peer >= 0 && e.peer < t.ranks) send_threads[e.rank][e.peer] = true;
  }
  auto name = [&](int pid, int tid, const std::string& label) {
    events->push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                       {"args", {{"name", label}}}});
    events->push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                       {"args", {{"sort_index", tid}}}});
  };
  for (int r = 0; r < t.ranks; ++r) {
    events->push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", r},
                       {"args", {{"name", "rank " + std::to_string(r)}}}});
    events->push_back({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", r},
                       {"args", {{"sort_index", r}}}});
    name(r, kComputeThread, "compute");
    name(r, kRecvThread, "recv");
    for (int p = 0; p < t.ranks; ++p) {
      if (send_threads[r][p]) name(r, send_thread(p), "send to rank " + std::to_string(p));
    }
  }
}

void add_slices_and_flows(const Timeline& t, json* events) {
  for (const TimelineEvent& e : t.events) {
    const int tid = thread_of(e);
    json args = {{"microbatch", e.microbatch}, {"chunk", e.chunk}};
    if (e.peer >= 0) args["peer"] = e.peer;
    events->push_back({{"name", event_name(e, t.chunks_per_rank)},
                       {"cat", kind_style(e.kind).name},
                       {"ph", "X"},
                       {"pid", e.rank},
                       {"tid", tid},
                       {"ts", e.start_ms * 1000},
                       {"dur", (e.end_ms - e.start_ms) * 1000},
                       {"args", std::move(args)}});
    if (e.flow < 0) continue;
    json flow = {{"name", "p2p"}, {"cat", "p2p"}, {"id", e.flow}, {"pid", e.rank}, {"tid", tid},
                 {"ts", e.start_ms * 1000}};
    if (is_send(e.kind)) {
      flow["ph"] = "s";
    } else {
      flow["ph"] = "f";
      flow["bp"] = "e";
    }
    events->push_back(std::move(flow));
  }
}

void add_counters(const Timeline& t, json* events) {
  for (int r = 0; r < t.ranks; ++r) {
    for (const InflightPoint& p : inflight_series(t, r)) {
      events->push_back({{"name", "live activations (micro-batches)"}, {"ph", "C"}, {"pid", r},
                         {"ts", p.time_ms * 1000}, {"args", {{"microbatches", p.microbatches}}}});
    }
  }
}

}  // namespace

std::string chrome_trace_json(const Timeline& t, const TimelineMetrics& metrics) {
  json events = json::array();
  add_metadata(t, &events);
  add_slices_and_flows(t, &events);
  add_counters(t, &events);
  json doc = {{"traceEvents", std::move(events)},
              {"displayTimeUnit", "ms"},
              {"otherData",
               {{"schema", "pp.trace"},
                {"version", 1},
                {"source", t.source},
                {"schedule", t.schedule_name},
                {"ranks", t.ranks},
                {"microbatches", t.microbatches},
                {"chunks_per_rank", t.chunks_per_rank},
                {"metrics", metrics_to_json(metrics)}}}};
  return doc.dump() + "\n";
}

}  // namespace pp
