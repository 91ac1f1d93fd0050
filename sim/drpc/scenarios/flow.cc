// Mux flow control as the cockroachdb/drpc fork does it (docs/protocol.md §17), each combination of
// the two ends' configuration a scenario of its own (issue 14 item 3: mismatched ends never hang
// silently), and the race between a grant and the credit-stall timeout. The general workload with
// every oracle: matched ends must never stall for credit nor overrun a receive cap, and every
// call must end; mismatched ends may fail a call only with the stall or cap error (the ledger).
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "impl/situations.h"
#include "impl/tunables.h"
#include "proto/limits.h"
#include "sim/drpc/workload.h"
#include "sim/drpc/workload_situations.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

template <typename T>
T Pick(SimContext& ctx, absl::string_view site, std::initializer_list<T> values) {
  return values.begin()[ctx.Choose(site, values.size())];
}

// The ends' flow control: `client_on`/`server_on` say which ends run it, with one configuration
// drawn for both (a window of a frame and a little more up to the fork's 2 MiB, a threshold from
// 1 byte to the largest live one). `stall` is both ends' credit_stall_timeout.
WorkloadConfig FlowWorkload(SimContext& ctx, bool client_on, bool server_on, Duration stall) {
  WorkloadConfig w;
  w.mode = WorkloadMode::kMux;
  w.connections = 1 + static_cast<int>(ctx.Choose("flow.connections", 2));
  w.callers_per_connection = 2 + static_cast<int>(ctx.Choose("flow.callers", 3));
  w.rpcs_per_caller = 3;
  w.messages_max = 6;
  w.message_sizes = ctx.Chance("flow.large", 400) ? std::vector<size_t>{0, 300, 70'000, 140'000}
                                                   : std::vector<size_t>{0, 16, 300, 4096};
  auto maybe = [&](absl::string_view site, uint32_t per_mille) {
    return ctx.Chance(site, 500) ? per_mille : 0;
  };
  w.cancel_per_mille = maybe("flow.cancels", 150);
  w.abandon_per_mille = maybe("flow.abandons", 100);
  w.handler_error_per_mille = maybe("flow.handler_errors", 150);
  w.close_send_early_per_mille = maybe("flow.close_send_early", 150);
  w.fault_per_mille = maybe("flow.faults", 200);
  const uint64_t extra = Pick<uint64_t>(ctx, "flow.window", {1, 4096, 64 * 1024, 2 << 20});
  const uint64_t threshold_choice = ctx.Choose("flow.threshold", 3);
  w.adjust = [=](Options& c, Options& s) {
    Options::FlowControl flow;
    flow.enabled = true;
    const uint64_t frame = std::max(c.split_bytes, s.split_bytes);
    flow.stream_window_bytes = frame + extra;
    flow.grant_threshold_bytes = threshold_choice == 0 ? 1 : threshold_choice == 1 ? 1 + extra / 4 : extra;
    c.flow = client_on ? flow : Options::FlowControl{};
    s.flow = server_on ? flow : Options::FlowControl{};
    for (Options* o : {&c, &s}) {
      o->credit_stall_timeout = stall;
      o->concurrent_streams_max_count = limits::kStreamsDefaultMaxCount;
    }
  };
  return w;
}

void RegisterCell(const std::string& cell, bool client_on, bool server_on,
                  std::vector<Situation> situations) {
  ScenarioRegistry::Register({
      .name = "mux.flow." + cell,
      .description = "mux flow control, client " + std::string(client_on ? "on" : "off") +
                     ", server " + (server_on ? "on" : "off") + " (docs/protocol.md §17.5)",
      .body =
          [client_on, server_on](SimContext& ctx) {
            // Mismatched ends stall for credit by design: briefly, so the run goes on.
            const Duration stall = client_on != server_on
                                       ? Duration::Millis(static_cast<int64_t>(
                                             1 + ctx.Choose("flow.stall_ms", 40)))
                                       : tunables::kCreditStallTimeoutDefault;
            RunWorkload(ctx, FlowWorkload(ctx, client_on, server_on, stall));
          },
      .situations = std::move(situations),
      .default_seeds = 60,
  });
}

const bool kFlowRegistered = [] {
  RegisterCell("on_on", true, true,
               {situations::kMuxMessageOverdrewTheCredit, situations::kMuxGrantRepaidAnOverdraft,
                situations::kMuxGrantSent, situations::kMuxGrantArrivedBetweenFramesOfAMessage,
                situations::kMuxStreamEndedWithItsCreditOverdrawn,
                situations::kWorkloadProbeAfterHealSucceeded});
  RegisterCell("on_off", true, false,
               {situations::kMuxCreditStallFailedTheStream, situations::kMuxWindowUpdateDropped,
                situations::kWorkloadFlowControlFailedACall,
                situations::kWorkloadProbeAfterHealSucceeded});
  RegisterCell("off_on", false, true,
               {situations::kMuxCreditStallFailedTheStream, situations::kMuxWindowUpdateDropped,
                situations::kWorkloadFlowControlFailedACall,
                situations::kWorkloadProbeAfterHealSucceeded});
  RegisterCell("off_off", false, false,
               {situations::kStreamReaderWaitedForQueueSpace,
                situations::kWorkloadProbeAfterHealSucceeded});
  return true;
}();

// A grant racing the credit-stall timeout: both ends alike, windows of a frame and a little more,
// and a stall timeout about one exchange long, so a grant sometimes arrives just after the stream
// it was for gave up (and sometimes just before).
DRPC_SIM_SCENARIO(race_mux_grant_vs_credit_stall, {
    .name = "race.mux.grant_vs_credit_stall",
    .description = "race catalogue (mux): a WindowUpdate vs the credit-stall timeout",
    .body =
        [](SimContext& ctx) {
          const Duration stall =
              Duration::Micros(static_cast<int64_t>(50 + ctx.Choose("race.stall_us", 2000)));
          WorkloadConfig w = FlowWorkload(ctx, true, true, stall);
          w.message_sizes = {1000, 5000};
          RunWorkload(ctx, w);
        },
    .situations = {situations::kMuxCreditStallFailedTheStream,
                   situations::kMuxGrantAfterACreditStall, situations::kMuxGrantRepaidAnOverdraft,
                   situations::kWorkloadFlowControlFailedACall},
    .default_seeds = 100,
});

}  // namespace
}  // namespace drpc::sim
