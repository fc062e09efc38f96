// Generic profile access: parse errors with file:line:column, typed getters whose errors name
// line and dotted key, arrays of tables, key order, and the did-you-mean unknown-key check.
#include "io/profile.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "common/error.h"
#include "temp_dir.h"

namespace lathe {
namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kText = R"(name = "demo"

[training]
batch_size = "4"
lr = 1
epochs = 10
shuffle = true
tags = ["a", "b"]
mixed = ["a", 2]

[training.optimizer]
kind = "adamw"
)";

TEST(Profile, TypedGetters) {
  Profile p = parse_profile(kText, "profile.toml");
  ProfileTable root = ProfileTable::root(p);
  EXPECT_EQ(root.get_string("name"), std::optional<std::string>("demo"));
  EXPECT_FALSE(root.get_string("absent"));
  ProfileTable training = *root.get_table("training");
  EXPECT_EQ(training.name(), "training");
  EXPECT_EQ(training.get_int("epochs"), std::optional<std::int64_t>(10));
  EXPECT_EQ(training.get_float("lr"), std::optional<double>(1.0));  // integer accepted
  EXPECT_EQ(training.get_bool("shuffle"), std::optional<bool>(true));
  EXPECT_EQ(training.get_string_array("tags"),
            (std::optional<std::vector<std::string>>({"a", "b"})));
  ProfileTable opt = *training.get_table("optimizer");
  EXPECT_EQ(opt.key_path("kind"), "training.optimizer.kind");
  EXPECT_EQ(opt.location("kind"), "profile.toml:12");
  EXPECT_EQ(training.keys(), (std::vector<std::string>{"batch_size", "lr", "epochs", "shuffle",
                                                       "tags", "mixed", "optimizer"}));
}

TEST(Profile, TypeErrorsNameLineAndKey) {
  Profile p = parse_profile(kText, "profile.toml");
  ProfileTable training = *ProfileTable::root(p).get_table("training");
  EXPECT_EQ(message_of([&] { training.get_int("batch_size"); }),
            "profile.toml:4: key training.batch_size: expected an integer, got a string");
  EXPECT_EQ(message_of([&] { training.get_bool("epochs"); }),
            "profile.toml:6: key training.epochs: expected true or false, got an integer");
  EXPECT_EQ(
      message_of([&] { training.get_string_array("mixed"); }),
      "profile.toml:9: key training.mixed: expected an array of strings, item 2 is an integer");
  EXPECT_EQ(message_of([&] { training.get_table("lr"); }),
            "profile.toml:5: key training.lr: expected a table, got an integer");
  EXPECT_EQ(message_of([&] { training.fail("epochs", "must be at most 5"); }),
            "profile.toml:6: key training.epochs: must be at most 5");
}

TEST(Profile, ArrayOfTables) {
  Profile p = parse_profile("[[c]]\nx = 1\n[[c]]\nx = 2\n", "p.toml");
  auto items = ProfileTable::root(p).get_table_array("c");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].name(), "c[2]");
  EXPECT_EQ(items[1].get_int("x"), std::optional<std::int64_t>(2));
  EXPECT_EQ(items[1].location("missing"), "p.toml:3");
  EXPECT_TRUE(ProfileTable::root(p).get_table_array("none").empty());
}

TEST(Profile, ParseErrorHasLineAndColumn) {
  std::string err = message_of([] { parse_profile("a = 1\nb = = 2\n", "bad.toml"); });
  EXPECT_EQ(err.rfind("bad.toml:2:", 0), 0u) << err;
  EXPECT_NE(err.find("cannot parse the profile"), std::string::npos) << err;
}

TEST(Profile, LoadFromDisk) {
  test::TempDir dir;
  test::write_text(dir / "p.toml", "x = 1\n");
  Profile p = load_profile(dir / "p.toml");
  EXPECT_EQ(p.path(), dir / "p.toml");
  EXPECT_EQ(ProfileTable::root(p).get_int("x"), std::optional<std::int64_t>(1));
  std::string err = message_of([&] { load_profile(dir / "none.toml"); });
  EXPECT_NE(err.find("cannot load profile"), std::string::npos) << err;
  EXPECT_NE(err.find("none.toml"), std::string::npos) << err;
}

TEST(Profile, NonRegularFilesAreRefusedBeforeOpening) {
  test::TempDir dir;
  const std::filesystem::path fifo = dir / "p.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Without the check, opening the FIFO would block until a writer comes: this writer comes
  // after a while, so a regression fails the test instead of hanging it.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done && std::chrono::steady_clock::now() < end) {
      int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // fails while no reader waits
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::string err = message_of([&] { load_profile(fifo); });
  done = true;
  writer.join();
  EXPECT_EQ(err, "cannot load profile: " + fifo.string() +
                     " is a named pipe (FIFO), not a file; give a profile .toml file");

  err = message_of([&] { load_profile(dir.path()); });
  EXPECT_NE(err.find(dir.path().string() + " is a folder, not a file"), std::string::npos) << err;
  err = message_of([] { load_profile("/dev/zero"); });
  EXPECT_EQ(err, "cannot load profile: /dev/zero is a character device, not a file; give a profile .toml file");
}

TEST(Profile, UnknownKeysSuggestClosest) {
  Profile p =
      parse_profile("[dataset]\npath = \"d\"\ncaption_extention = \".txt\"\nzzz = 1\n", "p.toml");
  ProfileTable ds = *ProfileTable::root(p).get_table("dataset");
  EXPECT_EQ(
      message_of([&] {
        ds.check_known_keys({"path", "caption_extension", "recursive"});
      }),
      "p.toml:3: key dataset.caption_extention: unknown key; did you mean caption_extension?");
  EXPECT_EQ(message_of([&] {
              ds.check_known_keys({"path", "caption_extention"});
            }),
            "p.toml:4: key dataset.zzz: unknown key; remove it or check the spelling");
  EXPECT_EQ(closest_key("batchsize", {"batch_size", "epochs"}), "batch_size");
  EXPECT_EQ(closest_key("foo", {"batch_size", "epochs"}), "");
}

}  // namespace
}  // namespace lathe
