#pragma once
// Reading a number from a flag's text, and the CLI11 checks built on it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace pp::cli {

// The number the whole of `text` spells ("1e-3", "inf", "nan" included); a number outside
// double's range (1e400, 1e-400) reads as an infinity, so that checks refuse it as not finite.
// nullopt when `text` is not a number as a whole.
inline std::optional<double> number_in(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::invalid_argument || stop != end || text.empty()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {  // checks refuse it as not finite
    return text.front() == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  return value;
}

// A validator for a finite number in [low, high] (CLI::Range lets nan through).
inline CLI::Validator finite_in(double low, double high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        const std::optional<double> x = number_in(text);
        if (!x) return "not a number: " + text;
        if (!std::isfinite(*x) || *x < low || *x > high) {
          return fmt::format("{} is not a finite number in [{}, {}]", text, low, high);
        }
        return {};
      },
      fmt::format("FINITE in [{} - {}]", low, high));
}

}  // namespace pp::cli
