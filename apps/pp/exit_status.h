#pragma once
// The exit code of a command that completed its work but must still say something through it:
// a --check rule violated (6), a run stopped by a signal after writing its checkpoint (7).
// main() returns it once everything is written and MPI is finalized. Errors go through pp::Error.

namespace pp::cli {

inline int& deferred_exit_code() {
  static int code = 0;
  return code;
}

}  // namespace pp::cli
