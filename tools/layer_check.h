// The layer check: project includes point one way, applications (tools/, codegen/, examples/) →
// fuzz/properties → sim → impl → proto, with a few finer walls inside the layers. It reads every
// #include "..." of the C++ sources under those folders and rejects the ones its layer may not
// reach. Bazel visibility (package groups in //:BUILD.bazel) draws the same walls between
// targets; this check also covers headers that are reachable but must not be included.
//
//   std::vector<Violation> v = CheckSource("impl/conn.cc", contents);
//   for (const Violation& x : v) std::cerr << FormatViolation(x) << "\n";
//
// | a file in                   | may include                                                     |
// |-----------------------------|-----------------------------------------------------------------|
// | proto/                      | proto/                                                          |
// | impl/runtime/ (production)  | impl/, proto/ (and only applications include impl/runtime/)     |
// | impl/ (the rest)            | impl/ except impl/runtime/, proto/; a *_test.cc also sim/       |
// |                             | except sim/drpc/ (the simulator is impl/'s test runtime)        |
// | sim/ (the engine)           | sim/ except sim/drpc/ and sim/testing/; of impl/ only the seam  |
// |                             | (impl/env.h, time.h, sync.h, fiber/); of proto/ only base/ and  |
// |                             | frame.h (the frame vocabulary the run recorder logs)            |
// | sim/testing/, sim/drpc/,    | sim/, impl/ except impl/runtime/, proto/                        |
// | sim/world/                  |                                                                 |
// | fuzz/, properties/          | themselves (not each other), sim/, impl/ except impl/runtime/,  |
// |                             | proto/                                                          |
// | tools/, codegen/, examples/ | everything                                                      |
// Files elsewhere, and includes of anything outside these folders (abseil, gtest, the standard
// library, corpus data), are not checked.
#ifndef DRPC_TOOLS_LAYER_CHECK_H_
#define DRPC_TOOLS_LAYER_CHECK_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace drpc::layers {

struct Violation {
  std::string path;
  int line = 0;        // 1-based
  std::string what;    // the include as written, e.g. "\"sim/simulation.h\""
  std::string reason;  // which wall it breaks
};

// The layer `path` (workspace-relative, '/'-separated) belongs to: "proto", "impl/runtime",
// "impl", "sim", "sim/testing", "sim/drpc", "sim/world", "fuzz", "properties", "tools", "codegen",
// "examples"; "" for paths outside them or that are not C++ sources.
std::string LayerOf(absl::string_view path);

// The includes of one file (`path` decides its layer) that break the layer order.
std::vector<Violation> CheckSource(absl::string_view path, absl::string_view contents);

// "impl/x.cc:12: layer impl may not include \"sim/simulation.h\": <reason>"
std::string FormatViolation(const Violation& violation);

// Checks every C++ source of the layers under `root`. Unreadable files are violations.
std::vector<Violation> CheckTree(const std::string& root, int* files_checked);

}  // namespace drpc::layers

#endif  // DRPC_TOOLS_LAYER_CHECK_H_
