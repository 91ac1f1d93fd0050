#include "sim/drpc/oracle_ab_harness.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

// Sets the switch and the probe for one run; puts back the candidate way (the production default)
// and no probe even when a fatal assertion leaves the run early, so no later test inherits them.
class ScopedWay {
 public:
  ScopedWay(const AbSwitch& ab, AbWay way, WireOracle::ReceivedProbe* probe) : ab_(ab) {
    ab_.set(way);
    WireOracle::set_received_probe_for_testing(probe);
  }
  ~ScopedWay() {
    WireOracle::set_received_probe_for_testing(nullptr);
    ab_.set(AbWay::kCandidate);
  }
  ScopedWay(const ScopedWay&) = delete;
  ScopedWay& operator=(const ScopedWay&) = delete;

 private:
  const AbSwitch& ab_;
};

Observed ObserveScenario(const AbSwitch& ab, AbWay way, const ScenarioSpec& spec, uint64_t seed) {
  Observed o;
  ScopedWay scoped(ab, way, &o.probe);
  o.result = RunSeed(spec.body, seed, OptionsFor(spec));
  return o;
}

}  // namespace

void ExpectSame(const AbSwitch& ab, const Observed& reference, const Observed& candidate,
                absl::string_view what) {
  const std::string label = absl::StrCat(ab.reference, " vs ", ab.candidate, ": ", what);
  EXPECT_EQ(reference.result.failure, candidate.result.failure)
      << FailureClassName(reference.result.failure) << " vs "
      << FailureClassName(candidate.result.failure) << "; " << label;
  EXPECT_EQ(reference.result.message, candidate.result.message) << label;
  EXPECT_EQ(reference.result.trace_hash, candidate.result.trace_hash) << label;
  EXPECT_EQ(reference.result.counts, candidate.result.counts) << label;
  EXPECT_EQ(reference.probe.digest, candidate.probe.digest) << label;
  EXPECT_EQ(ab.fast_frames(reference.probe), 0u)
      << "the " << ab.reference << " way took the fast path; " << label;
  EXPECT_EQ(reference.reports, candidate.reports) << label;
}

uint64_t SeedsMaxCount(const AbSwitch& ab) {
  const char* v = std::getenv(ab.seeds_env);
  return v == nullptr ? ab.seeds_default : std::strtoull(v, nullptr, 10);
}

int ExpectEveryScenarioSameBothWays(
    const AbSwitch& ab,
    absl::FunctionRef<void(const Observed& reference, const Observed& candidate)> also) {
  const uint64_t seeds_max = SeedsMaxCount(ab);
  int runs = 0;
  for (const ScenarioSpec* spec : ScenarioRegistry::All()) {
    const uint64_t seeds = std::min(spec->default_seeds, seeds_max);
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      const Observed reference = ObserveScenario(ab, AbWay::kReference, *spec, seed);
      const Observed candidate = ObserveScenario(ab, AbWay::kCandidate, *spec, seed);
      ExpectSame(ab, reference, candidate,
                 absl::StrCat(spec->name, " seed ", seed, "\n  replay (", ab.candidate,
                              "): bazel run //tools:sim -- --scenario=", spec->name,
                              " --seed=", seed));
      also(reference, candidate);
      ++runs;
    }
  }
  return runs;
}

Observed ObserveExchange(const AbSwitch& ab, AbWay way, const Options& options,
                         absl::FunctionRef<void(Transport& client, Transport& server)> body) {
  Observed o;
  ScopedWay scoped(ab, way, &o.probe);
  o.result = RunSeed(
      [&](SimContext& ctx) {
        WireOracle oracle([&](std::string why) { o.reports.push_back(std::move(why)); });
        oracle.set_trace(&ctx);
        auto [a, b] = ctx.network().Pipe("tapped");
        std::unique_ptr<Transport> client =
            oracle.Tap(std::move(a), "client", WireEndConfig::For(options, /*client=*/true));
        std::unique_ptr<Transport> server =
            oracle.Tap(std::move(b), "server", WireEndConfig::For(options, /*client=*/false));
        body(*client, *server);
        server->Close();
        client->Close();
      },
      1, RunOptions{});
  return o;
}

void ReadExactly(Transport& t, size_t bytes, size_t read_max_bytes) {
  std::string buf(read_max_bytes, '\0');
  for (size_t got = 0; got < bytes;) {
    ASSERT_GT(read_max_bytes, 0u);
    absl::StatusOr<size_t> n = t.Read(buf.data(), std::min(read_max_bytes, bytes - got));
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_GT(*n, 0u) << "end of stream after " << got << " of " << bytes << " bytes";
    got += *n;
  }
}

}  // namespace drpc::sim
