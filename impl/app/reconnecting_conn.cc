#include "impl/app/reconnecting_conn.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/app/interceptors.h"
#include "impl/errors.h"
#include "proto/base/check.h"

namespace drpc {

absl::Status ReconnectOptions::Validate() const {
  if (absl::Status s = connection.Validate(); !s.ok()) return s;
  if (absl::Status s = backoff.Validate(); !s.ok()) return s;
  if (dial_timeout <= Duration::Zero()) {
    return absl::InvalidArgumentError("reconnect: dial_timeout must be > 0");
  }
  if (stable_after < Duration::Zero()) {
    return absl::InvalidArgumentError("reconnect: stable_after must be >= 0");
  }
  return absl::OkStatus();
}

ReconnectingConn::ReconnectingConn(Env& env, Dialer& dialer, std::string address,
                                   ReconnectOptions options)
    : env_(&env),
      dialer_(&dialer),
      address_(std::move(address)),
      options_(std::move(options)),
      closed_(env),
      changed_(env),
      fibers_(env) {
  DRPC_CHECK_OK(options_.Validate());
}

ReconnectingConn::~ReconnectingConn() {
  DRPC_CHECK(closed_.IsSet()) << "ReconnectingConn to " << address_ << " destroyed without Close";
  DRPC_CHECK(!dialing_ && conn_ == nullptr);
}

void ReconnectingConn::WaitForChange(CallContext& ctx, Instant until, absl::string_view reason) {
  const Signal::CallbackId id = ctx.done_signal().OnSet([this](const absl::Status&) {
    changed_.WakeAll();
  });
  // Not bounded by ctx.deadline(): the callback wakes us when ctx ends. A timer may fire late,
  // so the deadline can be past while ctx is not done yet; a wait bounded by it would return at
  // once, and the callers' loops would spin without ever letting the deadline's timer run.
  if (!ctx.done()) changed_.Wait(reason, until);
  ctx.done_signal().RemoveCallback(id);
}

void ReconnectingConn::RetireBroken() {
  DRPC_CHECK(conn_ != nullptr && conn_->closed().IsSet());
  const absl::Status why = conn_->closed().status();
  const bool stable = env_->clock().Now() - connected_at_ >= options_.stable_after;
  // Joins the broken connection's fibers; streams callers still hold keep the object alive.
  std::shared_ptr<Conn> broken = std::move(conn_);
  broken->Close();
  if (!options_.reconnect) {
    closed_.Set(ClosedError(absl::StrCat("connection to ", address_, " lost (no reconnect)"), why));
    return;
  }
  // A connection that broke soon after it was made counts as a failed attempt (a server that
  // accepts and drops at once must not be redialled in a tight loop).
  failures_ = stable ? 0 : failures_ + 1;
  last_error_ = absl::UnavailableError(
      absl::StrCat("connection to ", address_, " lost: ", why.message()));
  next_attempt_ = env_->clock().Now();
  if (failures_ > 0) next_attempt_ = next_attempt_ + options_.backoff.DelayAfter(failures_, options_.random);
}

absl::StatusOr<std::shared_ptr<Conn>> ReconnectingConn::Acquire(CallContext& ctx) {
  for (;;) {
    if (closed_.IsSet()) return closed_.status();
    if (ctx.done()) return ctx.err();
    if (conn_ != nullptr && conn_->closed().IsSet()) RetireBroken();
    if (closed_.IsSet()) continue;
    if (conn_ != nullptr) return conn_;
    const Instant now = env_->clock().Now();
    if (!dialing_ && now >= next_attempt_) StartDial();
    if (dialing_) {
      const uint64_t seen = dials_finished_;
      while (dials_finished_ == seen && !closed_.IsSet() && !ctx.done()) {
        WaitForChange(ctx, Instant::Infinite(), "reconnecting conn: waiting for the dial");
      }
      // The dial this call waited for failed: report it unless the call waits for readiness.
      if (dials_finished_ != seen && conn_ == nullptr && !options_.wait_for_ready &&
          !closed_.IsSet() && !ctx.done()) {
        return last_error_;
      }
      continue;
    }
    if (!options_.wait_for_ready) {
      return absl::UnavailableError(absl::StrCat(
          "reconnecting to ", address_, " in ", (next_attempt_ - now).ToString(), " (",
          failures_, " failed attempts): ", last_error_.message()));
    }
    WaitForChange(ctx, next_attempt_, "reconnecting conn: backing off");
  }
}

void ReconnectingConn::StartDial() {
  DRPC_CHECK(!dialing_);
  dialing_ = true;
  fibers_.Add();
  absl::Status spawned =
      env_->scheduler().Spawn(absl::StrCat("reconnecting conn: dial ", address_), [this] {
        Dial();
        fibers_.Done();
      });
  if (!spawned.ok()) {
    // No fiber to dial on (the scheduler's stack budget is spent): a failed attempt like any
    // other, retried after the backoff.
    fibers_.Done();
    dialing_ = false;
    Fail(spawned);
    changed_.WakeAll();
  }
}

absl::StatusOr<std::shared_ptr<Conn>> ReconnectingConn::DialOnce() {
  const Instant deadline = env_->clock().Now() + options_.dial_timeout;
  absl::StatusOr<std::unique_ptr<Transport>> t = dialer_->Dial(address_, deadline);
  if (!t.ok()) return t.status();
  std::unique_ptr<Transport> transport = *std::move(t);
  if (options_.wrap_transport) transport = options_.wrap_transport(std::move(transport));
  absl::StatusOr<std::unique_ptr<Conn>> made =
      Conn::Create(*env_, std::move(transport), options_.connection);
  if (!made.ok()) return made.status();
  std::shared_ptr<Conn> conn = *std::move(made);
  if (options_.on_connect) {
    CallContext ctx(*env_);
    ctx.SetDeadline(deadline);
    if (absl::Status s = options_.on_connect(*conn, ctx); !s.ok()) {
      conn->Close();
      return absl::Status(s.code(), absl::StrCat("on_connect: ", s.message()));
    }
  }
  return conn;
}

void ReconnectingConn::Dial() {
  ++dials_;
  if (options_.metrics != nullptr) options_.metrics->Add(Side::kClient, Metric::kDials, 1);
  absl::StatusOr<std::shared_ptr<Conn>> conn = DialOnce();
  dialing_ = false;
  if (!conn.ok()) {
    Fail(conn.status());
  } else if (closed_.IsSet()) {
    (*conn)->Close();  // Close came while dialing
  } else {
    conn_ = *std::move(conn);
    connected_at_ = env_->clock().Now();
    ++generation_;
    last_error_ = absl::OkStatus();
  }
  ++dials_finished_;
  changed_.WakeAll();
}

void ReconnectingConn::Fail(const absl::Status& error) {
  if (options_.metrics != nullptr) options_.metrics->Add(Side::kClient, Metric::kDialFailures, 1);
  ++failures_;
  last_error_ = absl::UnavailableError(absl::StrCat("dial ", address_, ": ", error.message()));
  next_attempt_ = env_->clock().Now() + options_.backoff.DelayAfter(failures_, options_.random);
  if (!options_.reconnect) closed_.Set(ClosedError("client closed", last_error_));
}

absl::Status ReconnectingConn::Connect(CallContext& ctx) {
  absl::StatusOr<std::shared_ptr<Conn>> c = Acquire(ctx);
  return c.status();
}

absl::StatusOr<std::string> ReconnectingConn::Invoke(CallContext& ctx, absl::string_view rpc,
                                                     absl::string_view request) {
  absl::StatusOr<std::shared_ptr<Conn>> c = Acquire(ctx);
  if (!c.ok()) return c.status();
  std::shared_ptr<Conn> conn = *std::move(c);  // alive for the whole call
  return conn->Invoke(ctx, rpc, request);
}

absl::StatusOr<std::shared_ptr<RpcStream>> ReconnectingConn::NewStream(CallContext& ctx,
                                                                       absl::string_view rpc) {
  absl::StatusOr<std::shared_ptr<Conn>> c = Acquire(ctx);
  if (!c.ok()) return c.status();
  std::shared_ptr<Conn> conn = *std::move(c);
  absl::StatusOr<std::shared_ptr<RpcStream>> s = conn->NewStream(ctx, rpc);
  if (!s.ok()) return s.status();
  return std::shared_ptr<RpcStream>(std::make_shared<OwningStream>(*std::move(s), conn));
}

void ReconnectingConn::Close() {
  closed_.Set(ClosedError("client closed"));
  changed_.WakeAll();
  fibers_.Wait("reconnecting conn close: waiting for the dial");
  if (conn_ != nullptr) {
    std::shared_ptr<Conn> conn = std::move(conn_);
    conn->Close();
  }
}

}  // namespace drpc
