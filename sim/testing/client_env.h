// What client-side scenarios (reconnecting clients, pools) need around the simulated network: a
// Dialer whose dials fail or take time as the tape decides, a Server that can be started, stopped
// and restarted at an address, and a RandomSource that draws from the tape (backoff jitter).
//
//   FaultyDialer dialer(ctx, DialFaults{.refuse_per_mille = 300, .slow_per_mille = 200});
//   SimServer server(ctx, "server:1", router, Options{});   // listening and serving
//   server.Stop();                                         // connections closed, address free
//   server.Start();                                        // a new server at the same address
//   TapeRandom random(ctx, "backoff.jitter");
//   ReconnectingConn conn(ctx.env(), dialer, "server:1", {.random = &random});
#ifndef DRPC_SIM_TESTING_CLIENT_ENV_H_
#define DRPC_SIM_TESTING_CLIENT_ENV_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/app/backoff.h"
#include "impl/env.h"
#include "impl/handler.h"
#include "impl/options.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "sim/simulation.h"

namespace drpc::sim {

struct DialFaults {
  // Per dial, per mille, while the network is not healed: refused at once (kUnavailable), or
  // hanging until the caller's deadline (kDeadlineExceeded), or slow (connects after a delay of
  // up to slow_max; past the caller's deadline it fails with kDeadlineExceeded).
  uint32_t refuse_per_mille = 0;
  uint32_t hang_per_mille = 0;
  uint32_t slow_per_mille = 0;
  Duration slow_max = Duration::Millis(50);
};

// A Dialer over ctx.network() with DialFaults. Dials are made from fibers.
class FaultyDialer final : public Dialer {
 public:
  FaultyDialer(SimContext& ctx, DialFaults faults) : ctx_(&ctx), faults_(faults) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override;

  struct Stats {
    uint64_t dials = 0;
    uint64_t refused = 0;   // by a drawn fault
    uint64_t hung = 0;
    uint64_t slow = 0;
    uint64_t connected = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  // Sleeps until `until` or `deadline`; false if the deadline came first.
  bool SleepUntil(Instant until, Instant deadline);

  SimContext* ctx_;
  DialFaults faults_;
  Stats stats_;
};

// A drpc Server listening at `address` on ctx.network(), serving `handler` (which must outlive
// it). Start/Stop may alternate; Stop shuts down gracefully with `grace` and joins everything.
// Call from fibers. Destroy only after Stop.
class SimServer {
 public:
  SimServer(SimContext& ctx, std::string address, const Handler& handler, Options options,
            Duration grace = Duration::Millis(5));
  ~SimServer();
  absl::Status Start();
  void Stop();
  bool running() const { return server_ != nullptr; }
  uint64_t starts() const { return starts_; }
  // Set to observe every server error (see Server::set_error_observer) of later starts.
  void set_error_observer(std::function<void(const absl::Status&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  SimContext* ctx_;
  std::string address_;
  const Handler* handler_;
  Options options_;
  Duration grace_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Signal> serving_done_;
  std::function<void(const absl::Status&)> observer_;
  uint64_t starts_ = 0;
};

// Backoff jitter drawn from the tape at `site`.
class TapeRandom final : public RandomSource {
 public:
  TapeRandom(SimContext& ctx, std::string site) : ctx_(&ctx), site_(std::move(site)) {}
  uint64_t Below(uint64_t n) override { return n <= 1 ? 0 : ctx_->Choose(site_, n); }

 private:
  SimContext* ctx_;
  std::string site_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_TESTING_CLIENT_ENV_H_
