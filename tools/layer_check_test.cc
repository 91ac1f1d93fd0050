#include "tools/layer_check.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/source_scan.h"

namespace drpc::layers {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Runfile(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "drpc_cpp") + "/" +
         rel;
}

std::string Fixture() {
  std::string contents;
  EXPECT_TRUE(scan::ReadSource(Runfile(""), "tools/testdata/layer_bad_fixture.txt", &contents));
  EXPECT_FALSE(contents.empty());
  return contents;
}

std::vector<int> LineNumbers(const std::vector<Violation>& violations) {
  std::vector<int> lines;
  for (const Violation& v : violations) lines.push_back(v.line);
  return lines;
}

// The fixture's refused lines when it is checked as `path`.
std::vector<int> RefusedLines(const std::string& path) {
  std::vector<int> lines;
  for (const Violation& v : CheckSource(path, Fixture())) {
    EXPECT_EQ(v.path, path);
    lines.push_back(v.line);
  }
  return lines;
}

// Fixture lines: 3 proto/packet.h, 4 proto/base/check.h, 5 impl/env.h, 6 impl/conn.h,
// 7 impl/runtime/tcp.h, 8 sim/simulation.h, 9 sim/testing/harness.h, 10 sim/drpc/workload.h,
// 11 fuzz/, 12 properties/, 13 tools/.
TEST(LayerCheckTest, ProtoIncludesOnlyProto) {
  EXPECT_THAT(RefusedLines("proto/frame.cc"), ElementsAreArray({5, 6, 7, 8, 9, 10, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("proto/base/check_test.cc"),
              ElementsAreArray({5, 6, 7, 8, 9, 10, 11, 12, 13}));
}

TEST(LayerCheckTest, ImplNeverIncludesTheRuntimeOrAnythingAbove) {
  EXPECT_THAT(RefusedLines("impl/conn.cc"), ElementsAreArray({7, 8, 9, 10, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("impl/testing/echo_service.h"),
              ElementsAreArray({7, 8, 9, 10, 11, 12, 13}));
}

TEST(LayerCheckTest, ImplTestsMayUseTheSimulatorButNotItsScenarioWorkloads) {
  EXPECT_THAT(RefusedLines("impl/conn_test.cc"), ElementsAreArray({7, 10, 11, 12, 13}));
  // A helper library is not a test, whatever folder it is in.
  EXPECT_THAT(RefusedLines("impl/testing/harness.cc"),
              ElementsAreArray({7, 8, 9, 10, 11, 12, 13}));
}

TEST(LayerCheckTest, RuntimeMayIncludeAllOfImplButNothingAbove) {
  EXPECT_THAT(RefusedLines("impl/runtime/tcp.cc"), ElementsAreArray({8, 9, 10, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("impl/runtime/tcp_test.cc"), ElementsAreArray({8, 9, 10, 11, 12, 13}));
}

TEST(LayerCheckTest, SimEngineSeesImplOnlyThroughTheSeam) {
  EXPECT_THAT(RefusedLines("sim/scheduler.cc"), ElementsAreArray({3, 6, 7, 9, 10, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("sim/simulation_test.cc"),
              ElementsAreArray({3, 6, 7, 9, 10, 11, 12, 13}));
  // The run recorder logs frames: the engine may name them, nothing more of the wire format.
  EXPECT_THAT(CheckSource("sim/recorder.h", "#include \"proto/frame.h\"\n"), IsEmpty());
  EXPECT_THAT(CheckSource("sim/recorder.h", "#include \"proto/metadata.h\"\n"), Not(IsEmpty()));
}

TEST(LayerCheckTest, SimTestingAndDrpcSitOnTheEngineAndNeverReachTheRuntime) {
  EXPECT_THAT(RefusedLines("sim/drpc/workload.cc"), ElementsAreArray({7, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("sim/drpc/scenarios/swarm.cc"), ElementsAreArray({7, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("sim/testing/harness.cc"), ElementsAreArray({7, 11, 12, 13}));
  EXPECT_THAT(RefusedLines("sim/world/world.cc"), ElementsAreArray({7, 11, 12, 13}));
}

TEST(LayerCheckTest, FuzzAndPropertiesAreSiblingsBelowTools) {
  EXPECT_THAT(RefusedLines("fuzz/sim_tape_fuzzer.cc"), ElementsAreArray({7, 12, 13}));
  EXPECT_THAT(RefusedLines("properties/generators.cc"), ElementsAreArray({7, 11, 13}));
}

TEST(LayerCheckTest, ApplicationsMayIncludeEverything) {
  EXPECT_THAT(RefusedLines("tools/sim.cc"), IsEmpty());
  EXPECT_THAT(RefusedLines("tools/interop/conformance.cc"), IsEmpty());
  EXPECT_THAT(RefusedLines("codegen/generated_tcp_test.cc"), IsEmpty());
  EXPECT_THAT(RefusedLines("examples/kv/server.cc"), IsEmpty());
}

TEST(LayerCheckTest, NothingBelowIncludesTheApplications) {
  EXPECT_THAT(LineNumbers(CheckSource("impl/conn.cc", "#include \"codegen/service.h\"\n")),
              ElementsAre(1));
  EXPECT_THAT(LineNumbers(CheckSource("sim/drpc/workload.cc",
                                      "#include \"examples/kv/store.h\"\n")),
              ElementsAre(1));
}

TEST(LayerCheckTest, FilesOutsideTheLayersAreNotChecked) {
  EXPECT_THAT(RefusedLines("corpus/x.cc"), IsEmpty());
  EXPECT_THAT(RefusedLines("impl/README.md"), IsEmpty());
  EXPECT_EQ(LayerOf("impl/README.md"), "");
  EXPECT_EQ(LayerOf("third_party/x.h"), "");
}

TEST(LayerCheckTest, LayersAreFoundByTheirMostSpecificFolder) {
  EXPECT_EQ(LayerOf("proto/base/check.h"), "proto");
  EXPECT_EQ(LayerOf("impl/runtime/reactor.cc"), "impl/runtime");
  EXPECT_EQ(LayerOf("impl/fiber/timer_queue.h"), "impl");
  EXPECT_EQ(LayerOf("sim/scheduler.h"), "sim");
  EXPECT_EQ(LayerOf("sim/testing/harness.h"), "sim/testing");
  EXPECT_EQ(LayerOf("sim/drpc/scenarios/races.cc"), "sim/drpc");
  EXPECT_EQ(LayerOf("sim/world/world.h"), "sim/world");
  EXPECT_EQ(LayerOf("tools/interop/capture.cc"), "tools");
  EXPECT_EQ(LayerOf("codegen/plugin/generator.cc"), "codegen");
  EXPECT_EQ(LayerOf("examples/kv/store.h"), "examples");
}

TEST(LayerCheckTest, ViolationNamesTheFileTheLineTheIncludeAndTheWall) {
  const std::vector<Violation> v =
      CheckSource("impl/conn.cc", "#include \"impl/env.h\"\n#include \"impl/runtime/tcp.h\"\n");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(FormatViolation(v[0]).rfind(
                "impl/conn.cc:2: layer impl may not include \"impl/runtime/tcp.h\": impl/runtime/ "
                "is the production runtime",
                0),
            0u)
      << FormatViolation(v[0]);
  const std::vector<Violation> up = CheckSource("proto/frame.cc", "#include \"sim/tape.h\"\n");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_THAT(up[0].reason, HasSubstr("fuzz/properties -> sim -> impl -> proto"));
  const std::vector<Violation> engine =
      CheckSource("sim/network.cc", "#include \"impl/server.h\"\n");
  ASSERT_EQ(engine.size(), 1u);
  EXPECT_THAT(engine[0].reason, HasSubstr("only through the Env seam"));
}

// The real tree: every source in the workspace keeps the layer order. The workspace root is found
// through the runfile symlink of WORKSPACE (the test is never cached, so a new include is always
// checked); if that does not lead to a source tree, the declared sources are checked instead.
TEST(LayerCheckTest, WorkspaceSourcesKeepTheLayerOrder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path workspace = fs::canonical(Runfile("WORKSPACE"), ec);
  int files = 0;
  std::vector<Violation> violations;
  if (!ec && fs::is_directory(workspace.parent_path() / "impl")) {
    violations = CheckTree(workspace.parent_path().string(), &files);
  } else {
    violations = CheckTree(Runfile(""), &files);
  }
  EXPECT_GT(files, 100) << "too few sources found";
  for (const Violation& v : violations) ADD_FAILURE() << FormatViolation(v);
}

}  // namespace
}  // namespace drpc::layers
