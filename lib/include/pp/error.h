#pragma once
// pp::Error: the one exception type of pp. Library code throws it with a message written for the
// user; only main() catches it, prints "error: <message>" and exits with exit_code(category).

#include <stdexcept>
#include <string>

namespace pp {

enum class ErrorCategory {
  kInvalidInput,  // a bad flag, field, file content or schedule: exit 2
  kInfeasible,    // the request is well-formed but nothing satisfies it: exit 3
  kIo,            // a file could not be read or written: exit 4
  kRuntime,       // a run failed while training: a rank stopped making progress, the loss
                  // became non-finite: exit 5
  kInternal,      // a bug in pp: exit 1
};

// Process exit code for a category (documented in docs/exit-codes.md).
int exit_code(ErrorCategory category);

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, const std::string& message)
      : std::runtime_error(message), category_(category) {}
  ErrorCategory category() const { return category_; }

 private:
  ErrorCategory category_;
};

// Shorthands for the common cases.
[[noreturn]] void throw_invalid(const std::string& message);
[[noreturn]] void throw_io(const std::string& message);
[[noreturn]] void throw_runtime(const std::string& message);

}  // namespace pp
