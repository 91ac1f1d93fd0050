#include "impl/app/standard_interceptors.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

// A stream that ended well: OK, EOF, or a cancel of its own.
bool EndedWell(const absl::Status& s) { return s.ok() || IsEof(s) || absl::IsCancelled(s); }

bool IsRefused(const absl::Status& s) {
  return absl::IsResourceExhausted(s) && absl::StartsWith(s.message(), kRefusedPrefix);
}

void CountEnd(MetricsSink& sink, Side side, const absl::Status& how) {
  sink.Add(side, Metric::kStreamsActive, -1);
  if (EndedWell(how)) {
    sink.Add(side, Metric::kStreamsClosed, 1);
    return;
  }
  sink.Add(side, Metric::kStreamsFailed, 1);
  if (IsRefused(how)) sink.Add(side, Metric::kStreamsRefused, 1);
}

bool DefaultRetryable(const absl::Status& s) {
  return absl::IsUnavailable(s) && !RemoteErrorCode(s).has_value();
}

}  // namespace

// --- Logging -------------------------------------------------------------------------------------

std::string FormatCallLog(const CallLog& log) {
  return absl::StrCat(log.side == Side::kClient ? "client " : "server ", log.rpc,
                      log.streaming ? " stream " : " unary ",
                      log.status.ok() ? "OK" : log.status.ToString(), " ",
                      log.duration.ToString());
}

ClientServerInterceptors LoggingInterceptor(std::function<void(const CallLog&)> log) {
  auto shared = std::make_shared<std::function<void(const CallLog&)>>(std::move(log));
  ClientServerInterceptors out;
  out.client.name = out.server.name = "logging";
  out.client.unary = [shared](CallContext& ctx, absl::string_view rpc, absl::string_view request,
                              UnaryInvoker next) {
    const Instant start = ctx.env().clock().Now();
    absl::StatusOr<std::string> reply = next(ctx, rpc, request);
    (*shared)(CallLog{Side::kClient, std::string(rpc), false, reply.status(),
                      ctx.env().clock().Now() - start});
    return reply;
  };
  out.client.stream = [shared](CallContext& ctx, absl::string_view rpc,
                               StreamOpener next) -> absl::StatusOr<std::shared_ptr<RpcStream>> {
    Env* env = &ctx.env();
    const Instant start = env->clock().Now();
    absl::StatusOr<std::shared_ptr<RpcStream>> s = next(ctx, rpc);
    if (!s.ok()) {
      (*shared)(CallLog{Side::kClient, std::string(rpc), true, s.status(), Duration::Zero()});
      return s;
    }
    return std::shared_ptr<RpcStream>(std::make_shared<EndObservedStream>(
        *std::move(s), [shared, env, start, name = std::string(rpc)](const absl::Status& how) {
          (*shared)(CallLog{Side::kClient, name, true, how, env->clock().Now() - start});
        }));
  };
  auto server_log = [shared](CallContext& ctx, const ServerCallInfo& call, bool streaming,
                             Instant start, const absl::Status& status) {
    (*shared)(CallLog{Side::kServer, std::string(call.rpc), streaming, status,
                      ctx.env().clock().Now() - start});
  };
  out.server.unary = [server_log](CallContext& ctx, const ServerCallInfo& call,
                                  absl::string_view request, UnaryHandlerNext next) {
    const Instant start = ctx.env().clock().Now();
    absl::StatusOr<std::string> reply = next(ctx, request);
    server_log(ctx, call, false, start, reply.status());
    return reply;
  };
  out.server.stream = [server_log](CallContext& ctx, const ServerCallInfo& call,
                                   RpcStream& stream, StreamHandlerNext next) {
    const Instant start = ctx.env().clock().Now();
    absl::Status status = next(ctx, stream);
    server_log(ctx, call, true, start, status);
    return status;
  };
  return out;
}

// --- Auth ----------------------------------------------------------------------------------------

ClientInterceptor AttachMetadata(std::string key, std::string value) {
  ClientInterceptor i;
  i.name = "attach_metadata";
  i.unary = [key, value](CallContext& ctx, absl::string_view rpc, absl::string_view request,
                         UnaryInvoker next) {
    ctx.metadata()[key] = value;
    return next(ctx, rpc, request);
  };
  i.stream = [key, value](CallContext& ctx, absl::string_view rpc, StreamOpener next) {
    ctx.metadata()[key] = value;
    return next(ctx, rpc);
  };
  return i;
}

ServerInterceptor RequireToken(std::string key,
                               std::function<absl::Status(absl::string_view)> check) {
  auto verify = [key, check = std::move(check)](CallContext& ctx) -> absl::Status {
    const Metadata& md = ctx.incoming_metadata();
    auto it = md.find(key);
    if (it == md.end()) return absl::UnauthenticatedError(absl::StrCat("missing ", key, " metadata"));
    return check(it->second);
  };
  ServerInterceptor i;
  i.name = "require_token";
  i.unary = [verify](CallContext& ctx, const ServerCallInfo&, absl::string_view request,
                     UnaryHandlerNext next) -> absl::StatusOr<std::string> {
    if (absl::Status s = verify(ctx); !s.ok()) return s;
    return next(ctx, request);
  };
  i.stream = [verify](CallContext& ctx, const ServerCallInfo&, RpcStream& stream,
                      StreamHandlerNext next) -> absl::Status {
    if (absl::Status s = verify(ctx); !s.ok()) return s;
    return next(ctx, stream);
  };
  return i;
}

// --- Retries -------------------------------------------------------------------------------------

ClientInterceptor RetryIdempotentUnary(RetryPolicy policy) {
  DRPC_CHECK(policy.idempotent != nullptr) << "RetryPolicy::idempotent is required";
  DRPC_CHECK_GE(policy.max_attempts, 1);
  DRPC_CHECK_OK(policy.backoff.Validate());
  if (!policy.retryable) policy.retryable = DefaultRetryable;
  ClientInterceptor i;
  i.name = "retry";
  i.unary = [policy](CallContext& ctx, absl::string_view rpc, absl::string_view request,
                     UnaryInvoker next) -> absl::StatusOr<std::string> {
    const bool may_retry = policy.idempotent(rpc);
    for (int attempt = 1;; ++attempt) {
      absl::StatusOr<std::string> reply = next(ctx, rpc, request);
      if (policy.budget != nullptr) {
        reply.ok() ? policy.budget->OnSuccess() : policy.budget->OnFailure();
      }
      if (reply.ok() || !may_retry || attempt >= policy.max_attempts || ctx.done() ||
          !policy.retryable(reply.status()) ||
          (policy.budget != nullptr && !policy.budget->CanRetry())) {
        return reply;
      }
      const Duration wait = policy.backoff.DelayAfter(static_cast<uint32_t>(attempt), policy.random);
      // Sleep, but wake for the context's end.
      WaitList sleeping(ctx.env());
      const Signal::CallbackId id = ctx.done_signal().OnSet([&](const absl::Status&) {
        sleeping.WakeAll();
      });
      const Instant until = ctx.env().clock().Now() + wait;
      while (!ctx.done() && ctx.env().clock().Now() < until) sleeping.Wait("retry: backing off", until);
      ctx.done_signal().RemoveCallback(id);
      if (ctx.done()) return ctx.err();
    }
  };
  return i;
}

// --- Deadlines -----------------------------------------------------------------------------------

ClientInterceptor SendDeadlineInMetadata() {
  auto stamp = [](CallContext& ctx) {
    if (ctx.deadline() == Instant::Infinite()) return;
    const Duration left = ctx.deadline() - ctx.env().clock().Now();
    ctx.metadata()[std::string(kTimeoutMetadataKey)] =
        absl::StrCat(left > Duration::Zero() ? left.nanos() : 0);
  };
  ClientInterceptor i;
  i.name = "send_deadline";
  i.unary = [stamp](CallContext& ctx, absl::string_view rpc, absl::string_view request,
                    UnaryInvoker next) {
    stamp(ctx);
    return next(ctx, rpc, request);
  };
  i.stream = [stamp](CallContext& ctx, absl::string_view rpc, StreamOpener next) {
    stamp(ctx);
    return next(ctx, rpc);
  };
  return i;
}

ServerInterceptor DeadlineFromMetadata(Duration max) {
  // Runs `body` with a child context ending at the deadline the client sent (if any).
  auto with_deadline = [max](CallContext& ctx, auto&& body) -> decltype(body(ctx)) {
    const Metadata& md = ctx.incoming_metadata();
    auto it = md.find(kTimeoutMetadataKey);
    if (it == md.end()) return body(ctx);
    int64_t nanos = 0;
    if (!absl::SimpleAtoi(it->second, &nanos) || nanos < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed ", kTimeoutMetadataKey, " metadata \"", it->second, "\""));
    }
    CallContext child(ctx.env(), ctx);
    const Duration timeout = Duration::Nanos(nanos);
    child.SetTimeout(timeout < max ? timeout : max);
    return body(child);
  };
  ServerInterceptor i;
  i.name = "deadline_from_metadata";
  i.unary = [with_deadline](CallContext& ctx, const ServerCallInfo&, absl::string_view request,
                            UnaryHandlerNext next) -> absl::StatusOr<std::string> {
    return with_deadline(ctx, [&](CallContext& c) -> absl::StatusOr<std::string> {
      return next(c, request);
    });
  };
  i.stream = [with_deadline](CallContext& ctx, const ServerCallInfo&, RpcStream& stream,
                             StreamHandlerNext next) -> absl::Status {
    return with_deadline(ctx, [&](CallContext& c) -> absl::Status { return next(c, stream); });
  };
  return i;
}

// --- Metrics -------------------------------------------------------------------------------------

ClientInterceptor ClientMetricsInterceptor(MetricsSink& sink) {
  ClientInterceptor i;
  i.name = "metrics";
  i.unary = [&sink](CallContext& ctx, absl::string_view rpc, absl::string_view request,
                    UnaryInvoker next) {
    sink.Add(Side::kClient, Metric::kStreamsOpened, 1);
    sink.Add(Side::kClient, Metric::kStreamsActive, 1);
    absl::StatusOr<std::string> reply = next(ctx, rpc, request);
    CountEnd(sink, Side::kClient, reply.status());
    return reply;
  };
  i.stream = [&sink](CallContext& ctx, absl::string_view rpc,
                     StreamOpener next) -> absl::StatusOr<std::shared_ptr<RpcStream>> {
    sink.Add(Side::kClient, Metric::kStreamsOpened, 1);
    sink.Add(Side::kClient, Metric::kStreamsActive, 1);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = next(ctx, rpc);
    if (!s.ok()) {
      CountEnd(sink, Side::kClient, s.status());
      return s;
    }
    return std::shared_ptr<RpcStream>(std::make_shared<EndObservedStream>(
        *std::move(s), [&sink](const absl::Status& how) { CountEnd(sink, Side::kClient, how); }));
  };
  return i;
}

ServerInterceptor ServerMetricsInterceptor(MetricsSink& sink) {
  ServerInterceptor i;
  i.name = "metrics";
  i.unary = [&sink](CallContext& ctx, const ServerCallInfo&, absl::string_view request,
                    UnaryHandlerNext next) {
    sink.Add(Side::kServer, Metric::kStreamsOpened, 1);
    sink.Add(Side::kServer, Metric::kStreamsActive, 1);
    absl::StatusOr<std::string> reply = next(ctx, request);
    CountEnd(sink, Side::kServer, reply.status());
    return reply;
  };
  i.stream = [&sink](CallContext& ctx, const ServerCallInfo&, RpcStream& stream,
                     StreamHandlerNext next) {
    sink.Add(Side::kServer, Metric::kStreamsOpened, 1);
    sink.Add(Side::kServer, Metric::kStreamsActive, 1);
    absl::Status status = next(ctx, stream);
    CountEnd(sink, Side::kServer, status);
    return status;
  };
  return i;
}

}  // namespace drpc
