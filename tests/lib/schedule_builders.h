#pragma once
// Test helpers: small schedules written by hand in the schedule-file shorthand.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "pp/schedule_file.h"

namespace pp::testing_support {

// lists[r] = rank r's actions ("F0", "B1.1", {"op":"SEND_F",...} as JSON text is not needed
// here: use nlohmann objects through `objects`).
inline Schedule schedule_of(int microbatches, const std::vector<nlohmann::json>& lists,
                            int chunks_per_rank = 1, nlohmann::json placement = nullptr) {
  nlohmann::json doc = {{"schema", "pp.schedule"},
                        {"version", 1},
                        {"name", "test"},
                        {"ranks", lists.size()},
                        {"microbatches", microbatches},
                        {"chunks_per_rank", chunks_per_rank},
                        {"actions", lists}};
  if (!placement.is_null()) doc["placement"] = placement;
  return parse_schedule_json(doc.dump(), "test");
}

inline nlohmann::json send_f(int mb, int peer, int chunk = 0) {
  return {{"op", "SEND_F"}, {"mb", mb}, {"peer", peer}, {"chunk", chunk}};
}
inline nlohmann::json recv_f(int mb, int peer, int chunk = 0) {
  return {{"op", "RECV_F"}, {"mb", mb}, {"peer", peer}, {"chunk", chunk}};
}
inline nlohmann::json send_b(int mb, int peer, int chunk = 0) {
  return {{"op", "SEND_B"}, {"mb", mb}, {"peer", peer}, {"chunk", chunk}};
}
inline nlohmann::json recv_b(int mb, int peer, int chunk = 0) {
  return {{"op", "RECV_B"}, {"mb", mb}, {"peer", peer}, {"chunk", chunk}};
}

}  // namespace pp::testing_support
