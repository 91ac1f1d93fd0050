#include "sim/scenario.h"

#include <map>
#include <memory>

#include "proto/base/check.h"

namespace drpc::sim {
namespace {

std::map<std::string, std::unique_ptr<ScenarioSpec>, std::less<>>& Registry() {
  static auto* registry = new std::map<std::string, std::unique_ptr<ScenarioSpec>, std::less<>>();
  return *registry;
}

}  // namespace

bool ScenarioRegistry::Register(ScenarioSpec spec) {
  DRPC_CHECK(!spec.name.empty());
  DRPC_CHECK(spec.body != nullptr) << spec.name;
  const std::string name = spec.name;
  auto [it, inserted] = Registry().emplace(name, std::make_unique<ScenarioSpec>(std::move(spec)));
  DRPC_CHECK(inserted) << "two scenarios are named " << name;
  return true;
}

const ScenarioSpec* ScenarioRegistry::Find(absl::string_view name) {
  auto it = Registry().find(name);
  return it == Registry().end() ? nullptr : it->second.get();
}

std::vector<const ScenarioSpec*> ScenarioRegistry::All() {
  std::vector<const ScenarioSpec*> out;
  for (const auto& [name, spec] : Registry()) out.push_back(spec.get());
  return out;
}

std::vector<const ScenarioSpec*> ScenarioRegistry::Fuzzed() {
  std::vector<const ScenarioSpec*> out;
  for (const auto& [name, spec] : Registry()) {
    if (spec->fuzz && !spec->expect_failure) out.push_back(spec.get());
  }
  return out;
}

uint16_t FuzzKeyOf(absl::string_view name) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  return static_cast<uint16_t>(hash ^ (hash >> 16));
}

const ScenarioSpec* ScenarioRegistry::FuzzedByKey(uint16_t key) {
  const ScenarioSpec* best = nullptr;
  uint16_t best_distance = 0;
  for (const ScenarioSpec* spec : Fuzzed()) {
    const uint16_t distance = static_cast<uint16_t>(FuzzKeyOf(spec->name) - key);
    if (best == nullptr || distance < best_distance) {
      best = spec;
      best_distance = distance;
    }
  }
  return best;
}

RunOptions OptionsFor(const ScenarioSpec& spec, RunOptions base) {
  if (spec.configure) spec.configure(base);
  return base;
}

}  // namespace drpc::sim
