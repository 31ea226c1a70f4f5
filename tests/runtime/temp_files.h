#pragma once
// Test helpers shared by the runtime's file-format tests: a path in the test's temporary
// directory, unique to this process, and a whole file read as bytes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace pp::test {

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("pp_io_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace pp::test
