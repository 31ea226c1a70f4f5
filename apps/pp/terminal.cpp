#include "terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace pp::cli {

int terminal_width() {
  if (const char* columns = std::getenv("COLUMNS")) {
    try {
      const int width = std::stoi(columns);
      if (width > 0) return width;
    } catch (...) {
      // Not a number: fall through to the terminal's own width.
    }
  }
  winsize size{};
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 120;
}

bool color_terminal() { return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr; }

}  // namespace pp::cli
