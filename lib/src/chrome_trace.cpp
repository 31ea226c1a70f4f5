#include <nlohmann/json.hpp>

#include "kind_style.h"
#include "pp/timeline_json.h"
#include "pp/timeline_render.h"

namespace pp {
namespace {

using json = nlohmann::ordered_json;

// Streams the elements of one JSON array: the caller writes what surrounds it; add() writes each
// element (dumped by nlohmann) with the separating comma.
class ArrayStream {
 public:
  explicit ArrayStream(const TextSink& sink) : sink_(sink) {}
  void add(const json& element) {
    if (!first_) sink_(",");
    first_ = false;
    sink_(element.dump());
  }

 private:
  const TextSink& sink_;
  bool first_ = true;
};

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

void add_metadata(const Timeline& t, ArrayStream* events) {
  std::vector<std::vector<bool>> send_threads(t.ranks, std::vector<bool>(t.ranks, false));
  for (const TimelineEvent& e : t.events) {
    if (is_send(e.kind) && e.peer >= 0 && e.peer < t.ranks) send_threads[e.rank][e.peer] = true;
  }
  auto name = [&](int pid, int tid, const std::string& label) {
    events->add({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                       {"args", {{"name", label}}}});
    events->add({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                       {"args", {{"sort_index", tid}}}});
  };
  for (int r = 0; r < t.ranks; ++r) {
    events->add({{"name", "process_name"}, {"ph", "M"}, {"pid", r},
                       {"args", {{"name", "rank " + std::to_string(r)}}}});
    events->add({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", r},
                       {"args", {{"sort_index", r}}}});
    name(r, kComputeThread, "compute");
    name(r, kRecvThread, "recv");
    for (int p = 0; p < t.ranks; ++p) {
      if (send_threads[r][p]) name(r, send_thread(p), "send to rank " + std::to_string(p));
    }
  }
}

// The trace's events of one shape, as one object whose keys are built once: only the values
// change from event to event. The output is what building each object anew gives, without the
// allocations that dominated writing a large trace.
class SliceEvents {
 public:
  explicit SliceEvents(bool with_peer) {
    json args = {{"microbatch", 0}, {"chunk", 0}};
    if (with_peer) args["peer"] = 0;
    doc_ = {{"name", ""}, {"cat", ""},  {"ph", "X"},     {"pid", 0},
            {"tid", 0},   {"ts", 0.0}, {"dur", 0.0},    {"args", std::move(args)}};
  }
  const json& of(const TimelineEvent& e, int chunks_per_rank) {
    doc_["name"].get_ref<std::string&>() = event_name(e, chunks_per_rank);
    doc_["cat"].get_ref<std::string&>() = kind_style(e.kind).name;
    doc_["pid"] = e.rank;
    doc_["tid"] = thread_of(e);
    doc_["ts"] = e.start_ms * 1000;
    doc_["dur"] = (e.end_ms - e.start_ms) * 1000;
    json& args = doc_["args"];
    args["microbatch"] = e.microbatch;
    args["chunk"] = e.chunk;
    if (e.peer >= 0) args["peer"] = e.peer;
    return doc_;
  }

 private:
  json doc_;
};

// The start ("s", at a send) or the end ("f", at its receive) of a flow arrow.
class FlowEvents {
 public:
  explicit FlowEvents(bool start) {
    doc_ = {{"name", "p2p"}, {"cat", "p2p"}, {"id", 0}, {"pid", 0}, {"tid", 0}, {"ts", 0.0}};
    if (start) {
      doc_["ph"] = "s";
    } else {
      doc_["ph"] = "f";
      doc_["bp"] = "e";
    }
  }
  const json& of(const TimelineEvent& e) {
    doc_["id"] = e.flow;
    doc_["pid"] = e.rank;
    doc_["tid"] = thread_of(e);
    doc_["ts"] = e.start_ms * 1000;
    return doc_;
  }

 private:
  json doc_;
};

void add_slices_and_flows(const Timeline& t, ArrayStream* events) {
  SliceEvents slices(false);
  SliceEvents slices_with_peer(true);
  FlowEvents flow_starts(true);
  FlowEvents flow_ends(false);
  for (const TimelineEvent& e : t.events) {
    events->add(e.peer >= 0 ? slices_with_peer.of(e, t.chunks_per_rank)
                            : slices.of(e, t.chunks_per_rank));
    if (e.flow < 0) continue;
    events->add(is_send(e.kind) ? flow_starts.of(e) : flow_ends.of(e));
  }
}

void add_counters(const Timeline& t, ArrayStream* events) {
  json counter = {{"name", "live activations (micro-batches)"}, {"ph", "C"}, {"pid", 0},
                  {"ts", 0.0}, {"args", {{"microbatches", 0.0}}}};
  for (int r = 0; r < t.ranks; ++r) {
    counter["pid"] = r;
    for (const InflightPoint& p : inflight_series(t, r)) {
      counter["ts"] = p.time_ms * 1000;
      counter["args"]["microbatches"] = p.microbatches;
      events->add(counter);
    }
  }
}

}  // namespace

void write_chrome_trace(const Timeline& t, const TimelineMetrics& metrics, const TextSink& sink) {
  // The document with an empty "traceEvents" (its first key) is split at that "[]" and the events
  // are streamed in between, so the file is the document nlohmann would dump, written piecewise.
  const json frame = {{"traceEvents", json::array()},
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
  const std::string text = frame.dump();
  const std::size_t split = text.find("[]") + 1;
  sink(std::string_view(text).substr(0, split));
  ArrayStream events(sink);
  add_metadata(t, &events);
  add_slices_and_flows(t, &events);
  add_counters(t, &events);
  sink(std::string_view(text).substr(split));
  sink("\n");
}

std::string chrome_trace_json(const Timeline& t, const TimelineMetrics& metrics) {
  std::string out;
  write_chrome_trace(t, metrics, [&out](std::string_view piece) { out += piece; });
  return out;
}

}  // namespace pp
