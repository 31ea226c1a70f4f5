#pragma once
// What the terminal pp writes to can show.

namespace pp::cli {

// Columns: $COLUMNS, else the terminal's width, else 120.
int terminal_width();

// True when stdout is a terminal and NO_COLOR is unset.
bool color_terminal();

}  // namespace pp::cli
