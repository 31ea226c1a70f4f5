#pragma once
// Internal: reading typed fields out of nlohmann::json with errors that name the field.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "pp/error.h"

namespace pp {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string origin, std::string prefix = "")
      : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return object_.contains(key) && !object_.at(key).is_null(); }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw_invalid(fmt::format("{}: {}{}: {}", origin_, prefix_, key, what));
  }

  double number(const char* key, double low, double high) const {
    if (!has(key)) fail(key, "is missing");
    const auto& v = object_.at(key);
    if (!v.is_number()) fail(key, "must be a number");
    const double x = v.get<double>();
    if (!(x >= low && x <= high)) fail(key, fmt::format("{} is outside {}..{}", x, low, high));
    return x;
  }

  long long integer(const char* key, long long low, long long high) const {
    if (!has(key)) fail(key, "is missing");
    const auto& v = object_.at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer");
    const long long x = v.is_number_unsigned() && v.get<std::uint64_t>() > (1ULL << 62)
                            ? (1LL << 62)
                            : v.get<long long>();
    if (x < low || x > high) fail(key, fmt::format("{} is outside {}..{}", x, low, high));
    return x;
  }

  std::string text(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    if (!object_.at(key).is_string()) fail(key, "must be a string");
    return object_.at(key).get<std::string>();
  }

  bool boolean(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    if (!object_.at(key).is_boolean()) fail(key, "must be true or false");
    return object_.at(key).get<bool>();
  }

  JsonFields object(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    if (!object_.at(key).is_object()) fail(key, "must be an object");
    return JsonFields(object_.at(key), origin_, prefix_ + key + ".");
  }

  const nlohmann::json& raw() const { return object_; }

  // The versioned-file header every pp JSON artifact carries: "schema" and "version".
  void require_schema(const char* schema, long long version) const {
    if (!has("schema") || text("schema") != schema) fail("schema", fmt::format("must be \"{}\"", schema));
    if (integer("version", 0, 1 << 30) != version) {
      fail("version", fmt::format("only version {} is supported", version));
    }
  }

 private:
  const nlohmann::json& object_;
  std::string origin_;
  std::string prefix_;
};

// Parses JSON text or throws pp::Error(kInvalidInput) "<origin>: not valid JSON: ...".
nlohmann::json parse_json_document(const std::string& text, const std::string& origin);

}  // namespace pp
