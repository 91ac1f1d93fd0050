// Ready interceptors (impl/app/interceptors.h): logging, auth tokens, retries of idempotent unary
// calls within a budget, deadlines carried in metadata, and metrics.
//
//   InterceptedConn conn(raw, {AttachMetadata("authorization", "Bearer s3cret"),
//                              SendDeadlineInMetadata(),
//                              RetryIdempotentUnary({.idempotent = [](auto rpc) { ... }}),
//                              LoggingInterceptor(print).client});
//   InterceptedHandler handler(router, {LoggingInterceptor(print).server,
//                                       DeadlineFromMetadata(Duration::Seconds(30)),
//                                       RequireToken("authorization", check)},
//                              RouterShapes(router));
#ifndef DRPC_IMPL_APP_STANDARD_INTERCEPTORS_H_
#define DRPC_IMPL_APP_STANDARD_INTERCEPTORS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/app/backoff.h"
#include "impl/app/interceptors.h"
#include "impl/app/metrics.h"
#include "impl/time.h"

namespace drpc {

// --- Logging -----------------------------------------------------------------------------------

struct CallLog {
  Side side = Side::kClient;
  std::string rpc;
  bool streaming = false;
  absl::Status status;  // how the call ended (client streams: see EndObservedStream)
  Duration duration;    // by the call's Env clock
};
struct ClientServerInterceptors {
  ClientInterceptor client;
  ServerInterceptor server;
};
// Calls `log` once per call when it ends, on the call's fiber (it must not block).
ClientServerInterceptors LoggingInterceptor(std::function<void(const CallLog&)> log);
// "client /pkg.Svc/Method unary OK 1.2ms" / "server /pkg.Svc/Watch stream CANCELLED: ... 3s".
std::string FormatCallLog(const CallLog& log);

// --- Auth --------------------------------------------------------------------------------------

// Client: sets metadata `key` to `value` on every call (overwriting what the caller set).
ClientInterceptor AttachMetadata(std::string key, std::string value);
// Server: the call runs only if the client sent metadata `key` and `check(value)` is OK; else
// the client gets kUnauthenticated "missing <key> metadata" or check's error, and the handler
// never runs.
ServerInterceptor RequireToken(std::string key, std::function<absl::Status(absl::string_view)> check);

// --- Retries -----------------------------------------------------------------------------------

struct RetryPolicy {
  // Which unary RPCs are safe to send twice. Required: non-idempotent calls are never retried.
  std::function<bool(absl::string_view rpc)> idempotent;
  // Attempts in all, the first included (>= 1).
  int max_attempts = 3;
  BackoffPolicy backoff{.initial = Duration::Millis(20), .max = Duration::Seconds(1)};
  // Which failures to retry. Default: the connection was lost or unavailable (kUnavailable,
  // which includes "closed: ..."); never a cancel, a deadline or a remote error.
  std::function<bool(const absl::Status&)> retryable;
  // Shared budget (may be null: no budget). Must outlive the interceptor.
  RetryBudget* budget = nullptr;
  // Jitter for the backoff (may be null). Must outlive the interceptor.
  RandomSource* random = nullptr;
};
// Client, unary hook only: retries failed attempts the policy allows after a backoff, while the
// call's context is not done and the budget allows. The call returns the last attempt's result
// (or ctx.err() if the context ended during a backoff).
ClientInterceptor RetryIdempotentUnary(RetryPolicy policy);

// --- Deadlines ---------------------------------------------------------------------------------

// The metadata key that carries a call's remaining time, in decimal nanoseconds.
inline constexpr absl::string_view kTimeoutMetadataKey = "drpc-timeout-ns";
// Client: a call whose context has a deadline sends the time left in kTimeoutMetadataKey.
// (Deadlines never travel on the DRPC wire by themselves: this pair of interceptors opts in.)
ClientInterceptor SendDeadlineInMetadata();
// Server: a call with kTimeoutMetadataKey runs with a context that ends at that deadline (at most
// `max` from now); a malformed value fails the call with kInvalidArgument before the handler runs.
ServerInterceptor DeadlineFromMetadata(Duration max = Duration::Infinite());

// --- Metrics -----------------------------------------------------------------------------------

// Streams opened/closed/failed/refused and streams_active (impl/app/metrics.h), per side. `sink`
// must outlive the interceptor.
ClientInterceptor ClientMetricsInterceptor(MetricsSink& sink);
ServerInterceptor ServerMetricsInterceptor(MetricsSink& sink);

}  // namespace drpc

#endif  // DRPC_IMPL_APP_STANDARD_INTERCEPTORS_H_
