#include "tensor_exchange.h"

#include <cstring>
#include <type_traits>

namespace pp {

std::string serialize_events(const std::vector<TimelineEvent>& events) {
  static_assert(std::is_trivially_copyable_v<TimelineEvent>);
  return std::string(reinterpret_cast<const char*>(events.data()), events.size() * sizeof(TimelineEvent));
}

void append_events(const std::string& blob, std::vector<TimelineEvent>* events) {
  const std::size_t n = blob.size() / sizeof(TimelineEvent);
  const std::size_t old = events->size();
  events->resize(old + n);
  std::memcpy(events->data() + old, blob.data(), n * sizeof(TimelineEvent));
}

}  // namespace pp
