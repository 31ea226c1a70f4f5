#pragma once
// Internal to pp::runtime: timeline events as bytes, to gather the measured timeline at one rank.
// Same binary, same machine word layout on every rank.
#include <string>
#include <vector>

#include "pp/timeline.h"

namespace pp {

std::string serialize_events(const std::vector<TimelineEvent>& events);
void append_events(const std::string& blob, std::vector<TimelineEvent>* events);

}  // namespace pp
