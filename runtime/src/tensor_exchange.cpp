#include "tensor_exchange.h"

#include <cstring>
#include <set>
#include <type_traits>

#include "pp/error.h"

namespace pp {
namespace {

template <typename T>
void put(std::string* out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out->append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
T get(const std::string& in, std::size_t* at) {
  T value;
  if (*at + sizeof value > in.size()) throw Error(ErrorCategory::kInternal, "truncated tensor blob");
  std::memcpy(&value, in.data() + *at, sizeof value);
  *at += sizeof value;
  return value;
}

}  // namespace

std::string serialize_tensors(const std::vector<const Tensor*>& tensors) {
  std::string out;
  put(&out, static_cast<std::uint64_t>(tensors.size()));
  for (const Tensor* t : tensors) {
    put(&out, static_cast<std::uint64_t>(t->name.size()));
    out += t->name;
    put(&out, static_cast<std::uint64_t>(t->shape.size()));
    for (std::int64_t d : t->shape) put(&out, d);
    put(&out, static_cast<std::uint64_t>(t->data.size()));
    out.append(reinterpret_cast<const char*>(t->data.data()), t->data.size() * sizeof(float));
  }
  return out;
}

std::vector<Tensor> deserialize_unique_tensors(const std::vector<std::string>& blobs) {
  std::vector<Tensor> out;
  std::set<std::string> seen;
  for (const std::string& blob : blobs) {
    if (blob.empty()) continue;
    std::size_t at = 0;
    const auto count = get<std::uint64_t>(blob, &at);
    for (std::uint64_t i = 0; i < count; ++i) {
      Tensor t;
      const auto name_length = get<std::uint64_t>(blob, &at);
      t.name = blob.substr(at, name_length);
      at += name_length;
      const auto dims = get<std::uint64_t>(blob, &at);
      for (std::uint64_t d = 0; d < dims; ++d) t.shape.push_back(get<std::int64_t>(blob, &at));
      const auto size = get<std::uint64_t>(blob, &at);
      t.data.resize(size);
      if (at + size * sizeof(float) > blob.size()) throw Error(ErrorCategory::kInternal, "truncated tensor blob");
      std::memcpy(t.data.data(), blob.data() + at, size * sizeof(float));
      at += size * sizeof(float);
      if (seen.insert(t.name).second) out.push_back(std::move(t));
    }
  }
  return out;
}

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
