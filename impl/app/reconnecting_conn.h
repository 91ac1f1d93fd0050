// ReconnectingConn: a ClientConn to one address that dials when needed and dials again after the
// connection breaks, with capped exponential backoff and jitter between failed attempts. What
// drpc::Client runs on its reactor; it runs the same in the simulator (SimNetwork is a Dialer).
//
//   ReconnectingConn conn(env, dialer, "10.0.0.7:7777", ReconnectOptions{});
//   absl::StatusOr<std::string> r = conn.Invoke(ctx, "/pkg.Svc/Method", "req");   // dials first
//   ... the server restarts: the next call dials again ...
//   conn.Close();
//
// Connection states and what a call does in each:
//   | state                         | a call                                                     |
//   |-------------------------------|------------------------------------------------------------|
//   | connected (healthy)           | runs on the connection                                     |
//   | no connection, no backoff     | starts a dial (on the conn's own fiber) and waits for it   |
//   | dialing                       | waits for the dial (bounded by its context)                |
//   | backing off after a failure   | fails at once with the last dial error (kUnavailable, "reconnecting to ADDR: ...") |
//   |                               | — or, with wait_for_ready, waits for the next attempt      |
//   | closed                        | fails with "closed: client closed"                         |
// A call that was running when the connection broke fails as on a Conn ("closed: connection
// closed: ..."); it is not retried here (RetryIdempotentUnary does that for calls that allow it).
// Backoff: after `failures` failed attempts in a row the next waits BackoffPolicy::DelayAfter.
// A dial error, an on_connect error and a connection that broke less than `stable_after` after
// it was made all count as failures; a connection that lived longer resets the count, so the
// first redial after a long-lived connection breaks is immediate.
//
// Re-dialling a different server: every new connection increments generation() and, if set,
// passes `on_connect` (e.g. a heartbeat that checks the server's identity) before any call uses
// it. With reconnect = false the first connection is the only one: once it breaks, closed() is
// set with the cause and every call fails (gRPC's "only once" dialer).
//
// Threading: belongs to `env`'s Scheduler; call from its fibers. Close() before destruction.
// Streams a caller still holds keep their connection alive (not the ReconnectingConn).
#ifndef DRPC_IMPL_APP_RECONNECTING_CONN_H_
#define DRPC_IMPL_APP_RECONNECTING_CONN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/app/backoff.h"
#include "impl/app/metrics.h"
#include "impl/client_conn.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/options.h"
#include "impl/sync.h"

namespace drpc {

struct ReconnectOptions {
  Options connection;  // each connection's protocol options (Options::mux must match the server)
  BackoffPolicy backoff;
  Duration dial_timeout = Duration::Seconds(10);
  // A connection that lived at least this long resets the failure count when it breaks.
  Duration stable_after = Duration::Seconds(1);
  // Calls wait for a connection (until their context ends) instead of failing during backoff.
  bool wait_for_ready = false;
  // false: one connection only; once it breaks the ReconnectingConn is closed.
  bool reconnect = true;
  // Runs on each new connection before calls use it; an error closes the connection and counts
  // as a failed dial. The context ends with the dial timeout.
  std::function<absl::Status(ClientConn& conn, CallContext& ctx)> on_connect;
  // Wraps each new transport (metering, ...) before the connection is made on it.
  std::function<std::unique_ptr<Transport>(std::unique_ptr<Transport>)> wrap_transport;
  MetricsSink* metrics = nullptr;  // dials and dial failures (Side::kClient); not owned
  RandomSource* random = nullptr;  // backoff jitter; not owned; null: no jitter

  absl::Status Validate() const;
};

class ReconnectingConn final : public ClientConn {
 public:
  // `dialer` must outlive this. Nothing is dialled until the first call (or Connect).
  ReconnectingConn(Env& env, Dialer& dialer, std::string address, ReconnectOptions options);
  ~ReconnectingConn() override;  // requires Close()
  ReconnectingConn(const ReconnectingConn&) = delete;
  ReconnectingConn& operator=(const ReconnectingConn&) = delete;

  absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                     absl::string_view request) override;
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                       absl::string_view rpc) override;
  // Waits (like a call, bounded by ctx) until a connection is up; its error otherwise.
  absl::Status Connect(CallContext& ctx);
  // Ends every call, stops reconnecting, closes the connection. Waits for a dial in progress
  // (at most dial_timeout). Idempotent.
  void Close() override;
  Signal& closed() override { return closed_; }

  const std::string& address() const { return address_; }
  // Connections made so far (each successful dial + on_connect).
  uint64_t generation() const { return generation_; }
  uint32_t consecutive_failures() const { return failures_; }
  uint64_t dials() const { return dials_; }
  bool connected() const { return conn_ != nullptr && !conn_->closed().IsSet(); }

 private:
  // A healthy connection for a call, or why there is none.
  absl::StatusOr<std::shared_ptr<Conn>> Acquire(CallContext& ctx);
  // Retires a broken connection and schedules the next attempt.
  void RetireBroken();
  void StartDial();
  void Dial();
  absl::StatusOr<std::shared_ptr<Conn>> DialOnce();
  void Fail(const absl::Status& error);
  // Parks until something changes, ctx ends, or `until` passes.
  void WaitForChange(CallContext& ctx, Instant until, absl::string_view reason);

  Env* env_;
  Dialer* dialer_;
  const std::string address_;
  const ReconnectOptions options_;
  Signal closed_;
  WaitList changed_;
  WaitGroup fibers_;  // the dial fiber
  std::shared_ptr<Conn> conn_;
  Instant connected_at_;
  bool dialing_ = false;
  uint32_t failures_ = 0;
  Instant next_attempt_ = Instant::FromNanos(0);
  absl::Status last_error_;
  uint64_t generation_ = 0;
  uint64_t dials_ = 0;
  uint64_t dials_finished_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_APP_RECONNECTING_CONN_H_
