#include "pp/error.h"

namespace pp {

int exit_code(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kInvalidInput: return 2;
    case ErrorCategory::kInfeasible: return 3;
    case ErrorCategory::kIo: return 4;
    case ErrorCategory::kRuntime: return 5;
    case ErrorCategory::kInternal: return 1;
  }
  return 1;
}

void throw_invalid(const std::string& message) {
  throw Error(ErrorCategory::kInvalidInput, message);
}

void throw_io(const std::string& message) { throw Error(ErrorCategory::kIo, message); }

void throw_runtime(const std::string& message) { throw Error(ErrorCategory::kRuntime, message); }

}  // namespace pp
