#pragma once
// Internal to pp::runtime: tensors and timeline events as bytes, to gather them at one rank
// (checkpoints, the measured timeline). Same binary, same machine word layout on every rank.
#include <string>
#include <vector>

#include "pp/runtime/parameters.h"
#include "pp/timeline.h"

namespace pp {

std::string serialize_tensors(const std::vector<const Tensor*>& tensors);
// Every tensor of every blob, the first of each name kept (replicas and tied copies are equal).
std::vector<Tensor> deserialize_unique_tensors(const std::vector<std::string>& blobs);

std::string serialize_events(const std::vector<TimelineEvent>& events);
void append_events(const std::string& blob, std::vector<TimelineEvent>* events);

}  // namespace pp
