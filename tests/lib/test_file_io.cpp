// Input bounds, output-path checks and the atomic writer (lib/include/pp/file_io.h).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "pp/error.h"
#include "pp/file_io.h"

namespace pp {
namespace {

namespace fs = std::filesystem;

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("pp-file-io-{}-{}", ::getpid(), counter_++);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void make(const std::string& name, const std::string& text) const { std::ofstream(path(name)) << text; }

  static ErrorCategory category_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.category();
    }
    return ErrorCategory::kInternal;  // "did not throw"
  }

  fs::path dir_;
  static inline int counter_ = 0;
};

TEST_F(FileIoTest, ReadingAnEndlessDeviceStopsAtTheLimit) {
  EXPECT_EQ(category_of([] { read_text_file("/dev/zero", "schedule file", 1 << 20); }),
            ErrorCategory::kInvalidInput);
}

TEST_F(FileIoTest, ReadsARegularFileWhole) {
  make("a.json", std::string(3'000'000, 'x'));
  EXPECT_EQ(read_text_file(path("a.json"), "plan").size(), 3'000'000u);
  EXPECT_EQ(category_of([&] { read_text_file(path("a.json"), "plan", 1000); }), ErrorCategory::kInvalidInput);
}

TEST_F(FileIoTest, AnOutputEqualToAnInputIsRefused) {
  make("s.json", "{}");
  EXPECT_EQ(category_of([&] { check_output_paths({{"--trace", path("s.json")}}, {{"--schedule-file", path("s.json")}}); }),
            ErrorCategory::kInvalidInput);
  // The same file spelled another way.
  const std::string other = (dir_ / "." / "s.json").string();
  EXPECT_EQ(category_of([&] { check_output_paths({{"--trace", other}}, {{"--schedule-file", path("s.json")}}); }),
            ErrorCategory::kInvalidInput);
}

TEST_F(FileIoTest, TwoOutputsOnOneFileOrOnStdoutAreRefused) {
  EXPECT_EQ(category_of([&] { check_output_paths({{"--trace", path("t")}, {"--svg", path("t")}}); }),
            ErrorCategory::kInvalidInput);
  EXPECT_EQ(category_of([&] { check_output_paths({{"--trace", "-"}, {"--svg", "-"}}); }),
            ErrorCategory::kInvalidInput);
  EXPECT_NO_THROW(check_output_paths({{"--trace", "-"}, {"--svg", path("t.svg")}, {"--save", ""}}));
  EXPECT_FALSE(fs::exists(path("t.svg")));  // checking creates nothing
}

TEST_F(FileIoTest, SpecialFilesAndLinksAreNotReplaced) {
  EXPECT_EQ(category_of([] { check_output_paths({{"--trace", "/dev/null"}}); }), ErrorCategory::kIo);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  EXPECT_EQ(category_of([&] { check_output_paths({{"--trace", path("fifo")}}); }), ErrorCategory::kIo);
  make("target", "keep");
  fs::create_symlink(path("target"), path("link"));
  EXPECT_EQ(category_of([&] { check_output_paths({{"-o", path("link")}}); }), ErrorCategory::kIo);
  EXPECT_EQ(category_of([&] { check_output_paths({{"-o", dir_.string()}}); }), ErrorCategory::kIo);
}

TEST_F(FileIoTest, AMissingDirectoryIsFoundBeforeAnyWork) {
  EXPECT_EQ(category_of([&] { check_output_paths({{"--save", path("no/such/dir/ck.safetensors")}}); }),
            ErrorCategory::kIo);
  make("file", "x");
  EXPECT_EQ(category_of([&] { check_output_paths({{"--save", path("file/ck")}}); }), ErrorCategory::kIo);
}

TEST_F(FileIoTest, NamesNearTheLengthLimitAreWritten) {
  const std::string name(250, 'n');
  EXPECT_NO_THROW(check_output_paths({{"--trace", path(name)}}));
  write_file_atomically(path(name), "content");
  EXPECT_EQ(read_text_file(path(name), "trace"), "content");
  const std::string too_long(256, 'n');
  EXPECT_EQ(category_of([&] { check_output_paths({{"--trace", path(too_long)}}); }), ErrorCategory::kIo);
}

TEST_F(FileIoTest, AStreamedFileAppearsWholeOnCommitAndNotBefore) {
  const std::string target = path("trace.json");
  make("trace.json", "old");
  {
    AtomicFileWriter out(target);
    for (int i = 0; i < 100'000; ++i) out.write(fmt::format("{:08d}\n", i));
    EXPECT_EQ(read_text_file(target, "trace"), "old");
    out.commit();
  }
  EXPECT_EQ(fs::file_size(target), 900'000u);
  {
    AtomicFileWriter abandoned(target);
    abandoned.write("partial");
  }
  EXPECT_EQ(fs::file_size(target), 900'000u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);  // no temporaries
}

TEST_F(FileIoTest, StaleTemporariesOfDeadWritersAreRemoved) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // its pid now names no running process
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string mine = temporary_path_for(path("ck.safetensors"));
  EXPECT_NE(mine.find(fmt::format(".tmp.{}.{}", host, ::getpid())), std::string::npos) << mine;
  make(fmt::format("ck.safetensors.tmp.{}.{}", host, child), "torn");
  make(fmt::format("ck.safetensors.tmp.{}", child), "torn, named by an older pp");
  make(fmt::format("ck.safetensors.tmp.{}.{}", host, ::getppid()), "a live writer's");
  make(fmt::format("ck.safetensors.tmp.other-node.{}", child), "another host's, on a shared disk");
  make("ck.safetensors.tmp.notapid", "someone else's");
  EXPECT_EQ(remove_stale_temporaries(path("ck.safetensors")), 2);
  EXPECT_FALSE(fs::exists(path(fmt::format("ck.safetensors.tmp.{}.{}", host, child))));
  EXPECT_FALSE(fs::exists(path(fmt::format("ck.safetensors.tmp.{}", child))));
  EXPECT_TRUE(fs::exists(path(fmt::format("ck.safetensors.tmp.{}.{}", host, ::getppid()))));
  EXPECT_TRUE(fs::exists(path(fmt::format("ck.safetensors.tmp.other-node.{}", child))));
  EXPECT_TRUE(fs::exists(path("ck.safetensors.tmp.notapid")));
}

}  // namespace
}  // namespace pp
