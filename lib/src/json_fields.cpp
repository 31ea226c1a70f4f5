#include "json_fields.h"

namespace pp {

nlohmann::json parse_json_document(const std::string& text, const std::string& origin) {
  try {
    nlohmann::json doc = nlohmann::json::parse(text);
    if (!doc.is_object()) throw_invalid(fmt::format("{}: the top level must be a JSON object", origin));
    return doc;
  } catch (const nlohmann::json::exception& e) {  // syntax, or a number out of range (1e400)
    std::string message = e.what();
    const auto end = message.find("] ");
    if (end != std::string::npos) message = message.substr(end + 2);
    throw_invalid(fmt::format("{}: not valid JSON: {}", origin, message));
  }
}

}  // namespace pp
