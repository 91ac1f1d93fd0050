#!/usr/bin/env bash
# A fresh Bazel workspace that pulls drpc-cpp in as a local_repository — exactly as README.md
# "Depending on drpc-cpp from another Bazel workspace" tells a user — with a drpc_cc_library that
# imports one of drpc-cpp's .proto files, and a test of its generated service; built and run by a
# nested bazel with its own output root. Slow (it compiles drpc-cpp from scratch): manual.
#
#   bazel test //codegen:external_workspace_test                       # ~5-10 min on 2 cores
#   bazel test //codegen:external_workspace_test --test_arg=--disk_cache=/path/to/cache
#
# Extra arguments are passed to the nested `bazel test`.
set -euo pipefail
drpc=$(dirname "$(readlink -f WORKSPACE)")
ws="$TEST_TMPDIR/my_app"
mkdir -p "$ws/app"
export HOME="$TEST_TMPDIR/home"
mkdir -p "$HOME"

cat >"$ws/WORKSPACE" <<EOW
workspace(name = "my_app")

local_repository(name = "drpc_cpp", path = "$drpc")

# drpc-cpp builds offline: the repositories Bazel would download, and Debian's libraries.
local_repository(name = "rules_cc", path = "$drpc/third_party/rules_cc")
local_repository(name = "rules_java", path = "$drpc/third_party/rules_java")
local_repository(name = "remote_coverage_tools", path = "$drpc/third_party/remote_coverage_tools")
local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")
new_local_repository(name = "system", build_file = "@drpc_cpp//third_party:system.BUILD", path = "/usr")
EOW

cat >"$ws/.bazelrc" <<'EOW'
build --cxxopt=-std=c++20 --host_cxxopt=-std=c++20
build --spawn_strategy=processwrapper-sandbox
test --test_output=errors
EOW

cat >"$ws/app/BUILD.bazel" <<'EOW'
load("@drpc_cpp//codegen:defs.bzl", "drpc_cc_library")

drpc_cc_library(
    name = "notes_proto",
    srcs = ["notes.proto"],
    deps = ["@drpc_cpp//examples/kv:kv_proto"],
)

cc_test(
    name = "notes_test",
    srcs = ["notes_test.cc"],
    deps = [
        ":notes_proto",
        "@drpc_cpp//impl:server",
        "@drpc_cpp//sim/testing:harness",
        "@system//:gtest_main",
    ],
)
EOW

cat >"$ws/app/notes.proto" <<'EOW'
syntax = "proto3";
package app;
import "examples/kv/kv.proto";
service Notes {
  rpc Save(kv.Entry) returns (kv.PutResponse);
}
EOW

cat >"$ws/app/notes_test.cc" <<'EOW'
#include "app/notes.drpc.h"
#include "gtest/gtest.h"
#include "impl/router.h"
#include "sim/testing/harness.h"

class NotesImpl final : public app::Notes::Server {
 public:
  absl::StatusOr<kv::PutResponse> Save(drpc::CallContext&, const kv::Entry& e) override {
    kv::PutResponse r;
    r.set_revision(static_cast<int64_t>(e.value().size()));
    return r;
  }
};

TEST(NotesTest, GeneratedServiceWorksFromAnotherWorkspace) {
  NotesImpl impl;
  drpc::Router router;
  ASSERT_TRUE(app::Notes::Register(router, impl).ok());
  drpc::sim::RunResult r = drpc::testing::RunPair(
      drpc::testing::MuxOptions(), drpc::testing::MuxOptions(),
      [](drpc::testing::Pair& p, drpc::sim::SimContext& sim) {
        kv::Entry e;
        e.set_value("four");
        absl::StatusOr<kv::PutResponse> saved = app::Notes::Client(p.conn()).Save(p.ctx(), e);
        sim.Check(saved.ok() && saved->revision() == 4, saved.status().ToString());
      },
      1, &router);
  EXPECT_TRUE(r.ok()) << r.message;
}
EOW

cd "$ws"
bazel --output_user_root="$TEST_TMPDIR/bazel_root" test //app:notes_test "$@"
status=$?
bazel --output_user_root="$TEST_TMPDIR/bazel_root" shutdown || true
[ "$status" -eq 0 ] && echo PASS
exit "$status"
