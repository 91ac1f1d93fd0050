#include "sim/world/shard_summary.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace drpc::sim {
namespace {

constexpr absl::string_view kPrefix = "drpc-sim: ";
constexpr int kIncompleteExitCode = 3;

constexpr FailureClass kClasses[] = {FailureClass::kNone,     FailureClass::kCorrectness,
                                     FailureClass::kLiveness, FailureClass::kDeadlock,
                                     FailureClass::kLeak,     FailureClass::kCrash};

bool ClassFromName(absl::string_view name, FailureClass* out) {
  for (FailureClass c : kClasses) {
    if (FailureClassName(c) == name) {
      *out = c;
      return true;
    }
  }
  return false;
}

// "k=v k=v ... replay=rest of line" into a map.
std::map<std::string, std::string> Fields(absl::string_view rest) {
  std::map<std::string, std::string> out;
  while (!rest.empty()) {
    rest = absl::StripLeadingAsciiWhitespace(rest);
    const size_t eq = rest.find('=');
    if (eq == absl::string_view::npos) break;
    const std::string key(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    if (key == "replay") {
      out[key] = std::string(absl::StripTrailingAsciiWhitespace(rest));
      break;
    }
    const size_t space = rest.find(' ');
    out[key] = std::string(rest.substr(0, space));
    rest = space == absl::string_view::npos ? "" : rest.substr(space);
  }
  return out;
}

bool U64(const std::map<std::string, std::string>& f, const std::string& key, uint64_t* out) {
  auto it = f.find(key);
  return it != f.end() && absl::SimpleAtoi(it->second, out);
}

// The report of (scenario, shard) in `reports`, made if new.
ShardReport& ReportFor(std::vector<ShardReport>& reports, const std::string& scenario,
                       ShardId shard) {
  for (ShardReport& r : reports) {
    if (r.scenario == scenario && r.shard.index == shard.index && r.shard.count == shard.count) {
      return r;
    }
  }
  reports.push_back(ShardReport{.scenario = scenario, .shard = shard});
  return reports.back();
}

bool ParseShard(absl::string_view text, ShardId* shard) {
  std::pair<absl::string_view, absl::string_view> p = absl::StrSplit(text, '/');
  return absl::SimpleAtoi(p.first, &shard->index) && absl::SimpleAtoi(p.second, &shard->count) &&
         shard->count > 0 && shard->index < shard->count;
}

absl::Status ParseLine(absl::string_view line, std::vector<ShardReport>& reports) {
  const size_t space = line.find(' ');
  const absl::string_view kind = line.substr(0, space);
  const std::map<std::string, std::string> f =
      Fields(space == absl::string_view::npos ? "" : line.substr(space + 1));
  auto scenario = f.find("scenario");
  auto shard_text = f.find("shard");
  ShardId shard;
  if (scenario == f.end() || shard_text == f.end() || !ParseShard(shard_text->second, &shard)) {
    return absl::InvalidArgumentError("needs scenario= and shard=I/N");
  }
  ShardReport& r = ReportFor(reports, scenario->second, shard);
  if (kind == "shard") {
    if (!U64(f, "first_seed", &r.first_seed) || !U64(f, "seeds", &r.seeds) ||
        !U64(f, "runs", &r.runs)) {
      return absl::InvalidArgumentError("a shard line needs first_seed=, seeds= and runs=");
    }
    for (FailureClass c : kClasses) {
      const std::string key(c == FailureClass::kNone ? "ok" : FailureClassName(c));
      uint64_t n = 0;
      if (!U64(f, key, &n)) return absl::InvalidArgumentError(absl::StrCat("missing ", key, "="));
      r.by_class[c] = n;
    }
    return absl::OkStatus();
  }
  if (kind == "failure") {
    ShardReport::Failure failure;
    auto cls = f.find("class");
    auto replay = f.find("replay");
    if (!U64(f, "seed", &failure.seed) || cls == f.end() ||
        !ClassFromName(cls->second, &failure.failure) || replay == f.end()) {
      return absl::InvalidArgumentError("a failure line needs seed=, class= and replay=");
    }
    failure.replay = replay->second;
    r.failures.push_back(std::move(failure));
    return absl::OkStatus();
  }
  if (kind == "situation") {
    auto name = f.find("name");
    uint64_t runs = 0, required = 0;
    if (name == f.end() || !U64(f, "runs", &runs) || !U64(f, "required", &required)) {
      return absl::InvalidArgumentError("a situation line needs name=, runs= and required=");
    }
    if (runs > 0) r.reached[name->second] += runs;
    if (required != 0) r.required.push_back(name->second);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown record \"", kind, "\""));
}

}  // namespace

std::vector<std::string> ShardReportLines(const ScenarioSpec& spec, const SweepOptions& options,
                                          const SweepResult& result) {
  const std::string head = absl::StrCat("scenario=", spec.name, " shard=", options.shard_index,
                                        "/", std::max<uint64_t>(1, options.shard_count));
  std::string counts;
  for (FailureClass c : kClasses) {
    auto it = result.by_class.find(c);
    absl::StrAppend(&counts, " ", c == FailureClass::kNone ? "ok" : FailureClassName(c), "=",
                    it == result.by_class.end() ? 0 : it->second);
  }
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat(kPrefix, "shard ", head, " first_seed=", options.first_seed,
                               " seeds=", options.seeds, " runs=", result.runs, counts));
  for (const std::vector<SeedFailure>* list : {&result.failures, &result.more_failures}) {
    for (const SeedFailure& f : *list) {
      lines.push_back(absl::StrCat(kPrefix, "failure ", head, " seed=", f.seed,
                                   " class=", FailureClassName(f.failure),
                                   " replay=", f.replay_command));
    }
  }
  std::map<std::string, bool> situations;
  for (const auto& [name, runs] : result.reached) situations[name] = false;
  for (const Situation s : spec.situations) situations[std::string(s.name())] = true;
  for (const auto& [name, required] : situations) {
    auto it = result.reached.find(name);
    lines.push_back(absl::StrCat(kPrefix, "situation ", head, " name=", name,
                                 " runs=", it == result.reached.end() ? 0 : it->second,
                                 " required=", required ? 1 : 0));
  }
  return lines;
}

absl::StatusOr<std::vector<ShardReport>> ParseShardReports(absl::string_view text) {
  std::vector<ShardReport> reports;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (!absl::ConsumePrefix(&line, kPrefix)) continue;
    if (absl::Status s = ParseLine(line, reports); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", s.message()));
    }
  }
  return reports;
}

MergedSummary MergeShardReports(const std::vector<ShardReport>& reports) {
  std::map<std::string, std::vector<const ShardReport*>> by_scenario;
  for (const ShardReport& r : reports) by_scenario[r.scenario].push_back(&r);
  MergedSummary out;
  for (const auto& [scenario, shards] : by_scenario) {
    MergedSweep m;
    m.scenario = scenario;
    m.shard_count = shards.front()->shard.count;
    m.first_seed = shards.front()->first_seed;
    m.seeds = shards.front()->seeds;
    std::map<std::string, bool> required;
    for (const ShardReport* r : shards) {
      if (r->shard.count != m.shard_count || r->first_seed != m.first_seed ||
          r->seeds != m.seeds) {
        m.inconsistent = true;
      }
      m.shards_seen.push_back(r->shard.index);
      m.runs += r->runs;
      for (const auto& [c, n] : r->by_class) m.by_class[c] += n;
      m.failures.insert(m.failures.end(), r->failures.begin(), r->failures.end());
      for (const auto& [s, n] : r->reached) m.reached[s] += n;
      for (const std::string& s : r->required) required[s] = true;
    }
    std::sort(m.shards_seen.begin(), m.shards_seen.end());
    m.shards_seen.erase(std::unique(m.shards_seen.begin(), m.shards_seen.end()),
                        m.shards_seen.end());
    for (uint64_t i = 0; i < m.shard_count; ++i) {
      if (!std::binary_search(m.shards_seen.begin(), m.shards_seen.end(), i)) {
        m.shards_missing.push_back(i);
      }
    }
    std::sort(m.failures.begin(), m.failures.end(),
              [](const ShardReport::Failure& a, const ShardReport::Failure& b) {
                return a.seed < b.seed;
              });
    if (m.shards_missing.empty() && !m.inconsistent) {
      for (const auto& [s, unused] : required) {
        if (!m.reached.contains(s)) m.unreached.push_back(s);
      }
    }
    int code = 0;
    for (const auto& [c, n] : m.by_class) {
      if (c != FailureClass::kNone && n > 0) code = std::max(code, ExitCodeFor(c));
    }
    if (code == 0 && !m.unreached.empty()) code = kBlindExitCode;
    if (code == 0 && (!m.shards_missing.empty() || m.inconsistent)) code = kIncompleteExitCode;
    out.exit_code = std::max(out.exit_code, code);
    out.sweeps.push_back(std::move(m));
  }
  return out;
}

std::string FormatMergedSummary(const MergedSummary& summary) {
  std::string out;
  for (const MergedSweep& m : summary.sweeps) {
    absl::StrAppend(&out, "scenario ", m.scenario, ": seeds ", m.first_seed, "..",
                    m.first_seed + m.seeds - 1, " over ", m.shard_count, " shard(s), ", m.runs,
                    " runs\n ");
    for (FailureClass c : kClasses) {
      auto it = m.by_class.find(c);
      absl::StrAppend(&out, " ", FailureClassName(c), " ", it == m.by_class.end() ? 0 : it->second,
                      c == FailureClass::kCrash ? "\n" : ",");
    }
    if (!m.shards_missing.empty()) {
      absl::StrAppend(&out, "  MISSING shard(s) ", absl::StrJoin(m.shards_missing, ", "),
                      ": their logs were not given, or they did not finish\n");
    }
    if (m.inconsistent) {
      absl::StrAppend(&out, "  INCONSISTENT: the shards ran different sweeps (shard counts or seed ranges)\n");
    }
    for (const ShardReport::Failure& f : m.failures) {
      absl::StrAppend(&out, "FAIL seed ", f.seed, " (", FailureClassName(f.failure), ")\n  replay: ",
                      f.replay, "\n");
    }
    for (const auto& [s, n] : m.reached) {
      absl::StrAppend(&out, "  situation ", s, " reached in ", n, " runs\n");
    }
    for (const std::string& s : m.unreached) {
      absl::StrAppend(&out, "  BLIND: no shard reached situation ", s, "\n");
    }
  }
  if (summary.sweeps.empty()) absl::StrAppend(&out, "no drpc-sim results found\n");
  absl::StrAppend(&out, summary.exit_code == 0 ? "merged: ok\n"
                                               : absl::StrCat("merged: FAILED (exit ",
                                                              summary.exit_code, ")\n"));
  return out;
}

}  // namespace drpc::sim
