#include "tools/layer_check.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/source_scan.h"

namespace drpc::layers {
namespace {

// One step of a layer's include policy: the first rule whose prefix matches an include decides.
// A prefix ending in '/' names a folder; any other names one file.
struct Rule {
  absl::string_view prefix;
  bool allow;
  absl::string_view reason;  // why it is refused (allowing rules leave it empty)
};

constexpr absl::string_view kRuntimeOnly =
    "impl/runtime/ is the production runtime: only impl/runtime/ itself and the applications "
    "(tools/, codegen/, examples/) include it (the simulator must never run production's clock, "
    "threads or sockets)";
constexpr absl::string_view kEngineNoDrpc =
    "the simulator engine knows no RPC workloads, oracles or test harnesses: sim/drpc/ and "
    "sim/testing/ sit on top of it";
constexpr absl::string_view kEngineSeamOnly =
    "the simulator engine reaches impl/ only through the Env seam (impl/env.h, impl/time.h, "
    "impl/sync.h, impl/fiber/); code that knows the protocol belongs in sim/drpc/";
constexpr absl::string_view kEngineNoWire =
    "the simulator engine does not know the wire format beyond the frame vocabulary its run "
    "recorder logs (proto/frame.h, proto/base/); code that assembles packets, reads metadata or "
    "counts windows belongs in sim/drpc/";
constexpr absl::string_view kImplTestsNoScenarios =
    "impl/'s tests run on the simulator engine and sim/testing/, not on sim/drpc/'s workloads";

constexpr Rule kProtoRules[] = {{"proto/", true, ""}};
constexpr Rule kRuntimeRules[] = {{"impl/", true, ""}, {"proto/", true, ""}};
constexpr Rule kImplRules[] = {
    {"impl/runtime/", false, kRuntimeOnly}, {"impl/", true, ""}, {"proto/", true, ""}};
constexpr Rule kImplTestRules[] = {
    {"impl/runtime/", false, kRuntimeOnly}, {"impl/", true, ""}, {"proto/", true, ""},
    {"sim/drpc/", false, kImplTestsNoScenarios}, {"sim/", true, ""}};
constexpr Rule kEngineRules[] = {
    {"sim/drpc/", false, kEngineNoDrpc},  {"sim/testing/", false, kEngineNoDrpc},
    {"sim/", true, ""},                   {"impl/env.h", true, ""},
    {"impl/time.h", true, ""},            {"impl/sync.h", true, ""},
    {"impl/fiber/", true, ""},            {"impl/", false, kEngineSeamOnly},
    {"proto/base/", true, ""},            {"proto/frame.h", true, ""},
    {"proto/", false, kEngineNoWire}};
constexpr Rule kSimUpperRules[] = {
    {"impl/runtime/", false, kRuntimeOnly}, {"sim/", true, ""}, {"impl/", true, ""},
    {"proto/", true, ""}};
constexpr Rule kFuzzRules[] = {{"impl/runtime/", false, kRuntimeOnly},
                               {"fuzz/", true, ""},
                               {"sim/", true, ""},
                               {"impl/", true, ""},
                               {"proto/", true, ""}};
constexpr Rule kPropertiesRules[] = {{"impl/runtime/", false, kRuntimeOnly},
                                     {"properties/", true, ""},
                                     {"sim/", true, ""},
                                     {"impl/", true, ""},
                                     {"proto/", true, ""}};
constexpr Rule kApplicationRules[] = {
    {"tools/", true, ""}, {"codegen/", true, ""}, {"examples/", true, ""}, {"fuzz/", true, ""},
    {"properties/", true, ""}, {"sim/", true, ""}, {"impl/", true, ""}, {"proto/", true, ""}};

struct Layer {
  absl::string_view name;
  absl::string_view folder;  // most specific first in kLayers
  absl::Span<const Rule> rules;
  absl::Span<const Rule> test_rules;  // for *_test.cc files; empty: the same as `rules`
};

constexpr Layer kLayers[] = {
    {"impl/runtime", "impl/runtime/", kRuntimeRules, {}},
    {"impl", "impl/", kImplRules, kImplTestRules},
    {"proto", "proto/", kProtoRules, {}},
    {"sim/testing", "sim/testing/", kSimUpperRules, {}},
    {"sim/drpc", "sim/drpc/", kSimUpperRules, {}},
    {"sim/world", "sim/world/", kSimUpperRules, {}},
    {"sim", "sim/", kEngineRules, {}},
    {"fuzz", "fuzz/", kFuzzRules, {}},
    {"properties", "properties/", kPropertiesRules, {}},
    {"tools", "tools/", kApplicationRules, {}},
    {"codegen", "codegen/", kApplicationRules, {}},
    {"examples", "examples/", kApplicationRules, {}},
};

// The project's own top-level folders; includes of anything else are not checked.
constexpr absl::string_view kProjectFolders[] = {"proto/",      "impl/",  "sim/",    "fuzz/",
                                                 "properties/", "tools/", "codegen/", "examples/"};

const Layer* FindLayer(absl::string_view path) {
  if (!scan::IsCxxSource(path)) return nullptr;
  for (const Layer& layer : kLayers) {
    if (absl::StartsWith(path, layer.folder)) return &layer;
  }
  return nullptr;
}

bool IsProjectInclude(absl::string_view target) {
  for (absl::string_view folder : kProjectFolders) {
    if (absl::StartsWith(target, folder)) return true;
  }
  return false;
}

bool Matches(const Rule& rule, absl::string_view target) {
  return absl::EndsWith(rule.prefix, "/") ? absl::StartsWith(target, rule.prefix)
                                          : target == rule.prefix;
}

// Empty if `target` may be included under `rules`, else the reason it may not.
std::string Refusal(const Layer& layer, absl::Span<const Rule> rules, absl::string_view target) {
  for (const Rule& rule : rules) {
    if (Matches(rule, target)) return rule.allow ? "" : std::string(rule.reason);
  }
  return absl::StrCat("includes point one way, applications (tools, codegen, examples) -> "
                      "fuzz/properties -> sim -> impl -> proto, and ",
                      target.substr(0, target.find('/') + 1), " is not below ", layer.folder);
}

bool IsTest(absl::string_view path) { return absl::EndsWith(path, "_test.cc"); }

}  // namespace

std::string LayerOf(absl::string_view path) {
  const Layer* layer = FindLayer(path);
  return layer == nullptr ? "" : std::string(layer->name);
}

std::vector<Violation> CheckSource(absl::string_view path, absl::string_view contents) {
  std::vector<Violation> out;
  const Layer* layer = FindLayer(path);
  if (layer == nullptr) return out;
  const absl::Span<const Rule> rules =
      IsTest(path) && !layer->test_rules.empty() ? layer->test_rules : layer->rules;
  for (const scan::Include& inc : scan::FindIncludes(contents)) {
    if (inc.angled || !IsProjectInclude(inc.target)) continue;
    std::string reason = Refusal(*layer, rules, inc.target);
    if (reason.empty()) continue;
    out.push_back({std::string(path), inc.line, inc.spelled, std::move(reason)});
  }
  return out;
}

std::string FormatViolation(const Violation& v) {
  return absl::StrCat(v.path, ":", v.line, ": layer ", LayerOf(v.path), " may not include ",
                      v.what, ": ", v.reason);
}

std::vector<Violation> CheckTree(const std::string& root, int* files_checked) {
  std::vector<Violation> out;
  int files = 0;
  for (const std::string& rel :
       scan::ListCxxSources(root, {"proto", "impl", "sim", "fuzz", "properties", "tools",
                                   "codegen", "examples"})) {
    ++files;
    std::string contents;
    if (!scan::ReadSource(root, rel, &contents)) {
      out.push_back({rel, 0, "unreadable file", "the layer check must read every source"});
      continue;
    }
    std::vector<Violation> v = CheckSource(rel, contents);
    out.insert(out.end(), v.begin(), v.end());
  }
  if (files_checked != nullptr) *files_checked = files;
  return out;
}

}  // namespace drpc::layers
