#include "tools/determinism_guard.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drpc::guard {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

std::string Runfile(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "drpc_cpp") + "/" +
         rel;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::pair<int, std::string>> LinesAndWhat(const std::vector<Violation>& v) {
  std::vector<std::pair<int, std::string>> out;
  for (const Violation& x : v) out.emplace_back(x.line, x.what);
  return out;
}

TEST(DeterminismGuardTest, BadFixtureIsRejectedWithFileAndLine) {
  const std::string contents = ReadFile(Runfile("tools/testdata/determinism_bad_fixture.txt"));
  ASSERT_FALSE(contents.empty());
  const std::vector<Violation> v = ScanSource("impl/bad_fixture.cc", contents);
  EXPECT_THAT(LinesAndWhat(v),
              ElementsAre(Pair(3, "<thread>"), Pair(4, "\"absl/random/random.h\""),
                          Pair(5, "<sys/socket.h>"), Pair(6, "<unordered_map>"),
                          Pair(7, "\"absl/container/flat_hash_set.h\""), Pair(15, "steady_clock"),
                          Pair(16, "rand()"), Pair(17, "std::mutex"), Pair(18, "getenv"),
                          Pair(19, "absl::Mutex"), Pair(20, "time()"), Pair(21, "this_thread"),
                          Pair(22, "std::unordered_map"), Pair(23, "absl::flat_hash_set"),
                          Pair(24, "std::unordered_multiset"), Pair(25, "absl::node_hash_map")));
  for (const Violation& x : v) EXPECT_EQ(x.path, "impl/bad_fixture.cc");
  EXPECT_EQ(FormatViolation(v[0]).rfind("impl/bad_fixture.cc:3: forbidden <thread>: ", 0), 0u)
      << FormatViolation(v[0]);
  EXPECT_EQ(FormatViolation(v[12]).rfind(
                "impl/bad_fixture.cc:22: forbidden std::unordered_map: hash containers iterate", 0),
            0u)
      << FormatViolation(v[12]);
}

// sim/ may use real time and processes (sweeps fork workers) but must iterate deterministically.
TEST(DeterminismGuardTest, SimIsGuardedForHashContainersOnly) {
  const std::string code =
      "#include <chrono>\n#include <unordered_set>\n#include \"absl/container/node_hash_set.h\"\n"
      "auto t = std::chrono::steady_clock::now();\n"
      "std::unordered_set<int> a;\nabsl::node_hash_set<int> b;\nusing std::unordered_multimap;\n"
      "absl::flat_hash_map<int, int> c;\n";
  EXPECT_THAT(LinesAndWhat(ScanSource("sim/sweep.cc", code)),
              ElementsAre(Pair(2, "<unordered_set>"),
                          Pair(3, "\"absl/container/node_hash_set.h\""),
                          Pair(5, "std::unordered_set"), Pair(6, "absl::node_hash_set"),
                          Pair(7, "std::unordered_multimap"), Pair(8, "absl::flat_hash_map")));
  EXPECT_THAT(ScanSource("impl/runtime/reactor.cc", code), IsEmpty());
  EXPECT_THAT(ScanSource("tools/sim.cc", code), IsEmpty());
}

TEST(DeterminismGuardTest, CommentsAndStringLiteralsAreIgnored) {
  EXPECT_THAT(ScanSource("proto/x.cc", "// rand() <thread>\n/* time(0) */\n"
                                       "const char* s = \"std::mutex getenv\";\n"
                                       "auto r = R\"x(steady_clock)x\";\n"),
              IsEmpty());
}

TEST(DeterminismGuardTest, MemberCallsAndPlainNamesAreAllowed) {
  EXPECT_THAT(ScanSource("impl/x.cc", "int a = clock.time(); int b = p->rand();\n"
                                      "int thread = 2; Instant Now();\n"),
              IsEmpty());
}

TEST(DeterminismGuardTest, DeclarationsNamedLikeForbiddenCallsAreAllowed) {
  EXPECT_THAT(ScanSource("impl/x.h", "Clock& clock() const;\nDuration* time(int);\n"
                                     "void SleepFor(Env& env, Duration d);\n"),
              IsEmpty());
  EXPECT_THAT(LinesAndWhat(ScanSource("impl/x.cc", "return time(nullptr);\nabsl::SleepFor(d);\n")),
              ElementsAre(Pair(1, "time()"), Pair(2, "absl::SleepFor")));
}

TEST(DeterminismGuardTest, QualifiedFreeCallsAreRejected) {
  EXPECT_THAT(LinesAndWhat(ScanSource("impl/x.cc", "x = std::rand();\ny = ::sleep(1);\n")),
              ElementsAre(Pair(1, "rand()"), Pair(2, "sleep()")));
}

TEST(DeterminismGuardTest, UsingNamespaceStdIsRejected) {
  EXPECT_THAT(LinesAndWhat(ScanSource("impl/x.cc", "using namespace std;\n")),
              ElementsAre(Pair(1, "using namespace std")));
}

TEST(DeterminismGuardTest, ProtoImplAndSimAreGuardedButNotTheRuntime) {
  EXPECT_TRUE(IsGuardedPath("proto/frame.cc"));
  EXPECT_TRUE(IsGuardedPath("impl/stream.h"));
  EXPECT_TRUE(IsGuardedPath("impl/stream_test.cc"));
  EXPECT_TRUE(IsGuardedPath("sim/scheduler.cc"));
  EXPECT_FALSE(IsGuardedPath("impl/runtime/reactor.cc"));
  EXPECT_FALSE(IsGuardedPath("tools/sim.cc"));
  EXPECT_FALSE(IsGuardedPath("impl/README.md"));
  EXPECT_TRUE(ScopeOf("impl/stream.h").env_doorway);
  EXPECT_TRUE(ScopeOf("impl/stream.h").ordered_iteration);
  EXPECT_FALSE(ScopeOf("sim/scheduler.cc").env_doorway);
  EXPECT_TRUE(ScopeOf("sim/scheduler.cc").ordered_iteration);
}

// Code of your own (drpc_determinism_test, --scan): every rule, wherever it lives.
TEST(DeterminismGuardTest, UserCodeGetsEveryRuleWhereverItLives) {
  const std::string code =
      "#include <thread>\n#include <unordered_map>\nauto t = std::chrono::steady_clock::now();\n"
      "int r = rand();\n";
  EXPECT_THAT(ScanSource("myservice/store.cc", code), IsEmpty());  // not a drpc-cpp folder
  EXPECT_THAT(LinesAndWhat(ScanSource("myservice/store.cc", code, kAllRules)),
              ElementsAre(Pair(1, "<thread>"), Pair(2, "<unordered_map>"),
                          Pair(3, "steady_clock"), Pair(4, "rand()")));
}

TEST(DeterminismGuardTest, ScanFilesReadsWhatItIsGivenAndReportsUnreadableFiles) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/user";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/bad.cc") << "#include <random>\nstd::unordered_set<int> s;\n";
  std::ofstream(dir + "/good.h") << "#include <map>\nstd::map<int, int> m;\n";
  std::ofstream(dir + "/notes.txt") << "#include <thread>\n";  // not C++: skipped
  int scanned = 0;
  const std::vector<Violation> v = ScanFiles(
      {dir + "/bad.cc", dir + "/good.h", dir + "/notes.txt", dir + "/missing.cc"}, kAllRules,
      &scanned);
  EXPECT_EQ(scanned, 3);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].what, "<random>");
  EXPECT_EQ(v[1].what, "std::unordered_set");
  EXPECT_EQ(v[2].what, "unreadable file");
  EXPECT_EQ(v[2].path, dir + "/missing.cc");
  int in_folder = 0;
  EXPECT_EQ(ScanFolders(std::getenv("TEST_TMPDIR"), {"user"}, kAllRules, &in_folder).size(), 2u);
  EXPECT_EQ(in_folder, 2);
}

// The real tree: every guarded file in the workspace must be clean. The workspace root is found
// through the runfile symlink of WORKSPACE; if that does not lead to a source tree (remote
// execution), the declared sources are scanned instead.
TEST(DeterminismGuardTest, WorkspaceSourcesAreClean) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path workspace = fs::canonical(Runfile("WORKSPACE"), ec);
  int files = 0;
  std::vector<Violation> violations;
  if (!ec && fs::is_directory(workspace.parent_path() / "proto")) {
    violations = ScanTree(workspace.parent_path().string(), &files);
  } else {
    violations = ScanTree(Runfile(""), &files);
  }
  EXPECT_GT(files, 0) << "no guarded sources found";
  for (const Violation& v : violations) ADD_FAILURE() << FormatViolation(v);
}

}  // namespace
}  // namespace drpc::guard
