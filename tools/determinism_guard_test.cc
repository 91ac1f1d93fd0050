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
                          Pair(5, "<sys/socket.h>"), Pair(12, "steady_clock"), Pair(13, "rand()"),
                          Pair(14, "std::mutex"), Pair(15, "getenv"), Pair(16, "absl::Mutex"),
                          Pair(17, "time()"), Pair(18, "this_thread")));
  for (const Violation& x : v) EXPECT_EQ(x.path, "impl/bad_fixture.cc");
  EXPECT_EQ(FormatViolation(v[0]).rfind("impl/bad_fixture.cc:3: forbidden <thread>: ", 0), 0u)
      << FormatViolation(v[0]);
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

TEST(DeterminismGuardTest, OnlyProtoAndImplOutsideTheRuntimeAreGuarded) {
  EXPECT_TRUE(IsGuardedPath("proto/frame.cc"));
  EXPECT_TRUE(IsGuardedPath("impl/stream.h"));
  EXPECT_TRUE(IsGuardedPath("impl/stream_test.cc"));
  EXPECT_FALSE(IsGuardedPath("impl/runtime/reactor.cc"));
  EXPECT_FALSE(IsGuardedPath("sim/scheduler.cc"));
  EXPECT_FALSE(IsGuardedPath("impl/README.md"));
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
