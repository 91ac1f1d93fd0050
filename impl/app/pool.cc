#include "impl/app/pool.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/app/interceptors.h"
#include "impl/errors.h"
#include "proto/base/check.h"

namespace drpc {

absl::Status PoolOptions::Validate() const {
  if (key_capacity == 0 || capacity == 0 || key_capacity > capacity) {
    return absl::InvalidArgumentError("pool: want 1 <= key_capacity <= capacity");
  }
  if (idle_expiry <= Duration::Zero() || dial_timeout <= Duration::Zero()) {
    return absl::InvalidArgumentError("pool: idle_expiry and dial_timeout must be > 0");
  }
  return connection.Validate();
}

struct Pool::State : std::enable_shared_from_this<Pool::State> {
  struct Idle {
    std::string key;
    std::shared_ptr<Conn> conn;
    std::string identity;
    uint64_t connection_id = 0;
    TimerId expiry = 0;
  };

  State(Env& e, Dialer& d, PoolOptions o)
      : env(&e), dialer(&d), options(std::move(o)), closers(e) {}

  void Count(Metric m) {
    if (options.metrics != nullptr) options.metrics->Add(Side::kClient, m, 1);
  }

  // Closes `conn` on a fiber of its own (closing joins the connection's fibers; callers may be
  // timer callbacks).
  void CloseLater(std::shared_ptr<Conn> conn) {
    closers.Add();
    absl::Status spawned =
        env->scheduler().Spawn("pool: closing a connection", [self = shared_from_this(), conn] {
          conn->Close();
          self->closers.Done();
        });
    if (!spawned.ok()) {
      // No fiber to close it on (the stack budget is spent): close it here, which waits for its
      // fibers; better than leaking the connection.
      conn->Close();
      closers.Done();
    }
  }

  // Takes idle entry `seq` out of the maps (its timer cancelled).
  Idle Take(uint64_t seq) {
    auto it = idle.find(seq);
    DRPC_CHECK(it != idle.end());
    Idle entry = std::move(it->second);
    idle.erase(it);
    auto k = by_key.find(entry.key);
    k->second.erase(seq);
    if (k->second.empty()) by_key.erase(k);
    if (entry.expiry != 0) env->clock().Cancel(entry.expiry);
    return entry;
  }

  void Evict(uint64_t seq) {
    ++stats.evicted;
    CloseLater(Take(seq).conn);
  }

  void Put(std::string key, std::shared_ptr<Conn> conn, std::string identity, uint64_t id) {
    while (by_key.contains(key) && by_key[key].size() >= options.key_capacity) {
      Evict(*by_key[key].begin());
    }
    while (idle.size() >= options.capacity) Evict(idle.begin()->first);
    const uint64_t seq = next_seq++;
    Idle& entry = idle[seq];
    entry = Idle{key, std::move(conn), std::move(identity), id, 0};
    by_key[key].insert(seq);
    if (!options.idle_expiry.is_infinite()) {
      entry.expiry = env->clock().ScheduleAt(
          env->clock().Now() + options.idle_expiry, [weak = weak_from_this(), seq] {
            std::shared_ptr<State> self = weak.lock();
            if (self == nullptr || !self->idle.contains(seq)) return;
            self->idle[seq].expiry = 0;  // firing now: nothing to cancel
            ++self->stats.expired;
            self->CloseLater(self->Take(seq).conn);
          });
    }
  }

  void Return(std::string key, std::shared_ptr<Conn> conn, std::string identity, uint64_t id) {
    DRPC_CHECK_GT(leased, 0u);
    --leased;
    if (conn->closed().IsSet()) {
      ++stats.discarded;
      CloseLater(std::move(conn));
    } else if (closed) {
      CloseLater(std::move(conn));  // a late return: never resurrects the pool
    } else {
      Put(std::move(key), std::move(conn), std::move(identity), id);
    }
  }

  Env* env;
  Dialer* dialer;
  const PoolOptions options;
  bool closed = false;
  std::map<uint64_t, Idle> idle;  // by age (sequence number), oldest first
  std::map<std::string, std::set<uint64_t>, std::less<>> by_key;
  std::map<std::string, std::string, std::less<>> pinned;  // key -> identity
  uint64_t next_seq = 1;
  uint64_t next_connection_id = 1;
  size_t leased = 0;
  Stats stats;
  WaitGroup closers;
};

Pool::Pool(Env& env, Dialer& dialer, PoolOptions options) {
  DRPC_CHECK_OK(options.Validate());
  state_ = std::make_shared<State>(env, dialer, std::move(options));
}

Pool::~Pool() { DRPC_CHECK(state_->closed) << "Pool destroyed without Close"; }

Pool::Stats Pool::stats() const {
  Stats s = state_->stats;
  s.idle = state_->idle.size();
  s.leased = state_->leased;
  return s;
}

void Pool::Forget(absl::string_view key) {
  auto it = state_->pinned.find(key);
  if (it != state_->pinned.end()) state_->pinned.erase(it);
}

void Pool::Close() {
  State& s = *state_;
  s.closed = true;
  while (!s.idle.empty()) s.CloseLater(s.Take(s.idle.begin()->first).conn);
  s.closers.Wait("pool close: closing connections");
}

absl::StatusOr<std::unique_ptr<PooledConn>> Pool::Get(CallContext& ctx, absl::string_view key) {
  State& s = *state_;
  if (s.closed) return ClosedError("pool closed");
  if (ctx.done()) return ctx.err();
  auto k = s.by_key.find(key);
  while (k != s.by_key.end()) {
    State::Idle entry = s.Take(*k->second.begin());
    k = s.by_key.find(key);
    if (entry.conn->closed().IsSet()) {  // broke while idle: never handed out
      ++s.stats.discarded;
      s.CloseLater(std::move(entry.conn));
      continue;
    }
    ++s.stats.hits;
    s.Count(Metric::kPoolHits);
    ++s.leased;
    return std::unique_ptr<PooledConn>(new PooledConn(state_, std::move(entry.key),
                                                      std::move(entry.conn),
                                                      std::move(entry.identity),
                                                      entry.connection_id));
  }
  ++s.stats.misses;
  s.Count(Metric::kPoolMisses);
  s.Count(Metric::kDials);
  const Instant deadline = std::min(s.env->clock().Now() + s.options.dial_timeout, ctx.deadline());
  absl::StatusOr<std::unique_ptr<Transport>> t = s.dialer->Dial(key, deadline);
  if (!t.ok()) {
    s.Count(Metric::kDialFailures);
    return t.status();
  }
  std::unique_ptr<Transport> transport = *std::move(t);
  if (s.options.wrap_transport) transport = s.options.wrap_transport(std::move(transport));
  absl::StatusOr<std::unique_ptr<Conn>> made =
      Conn::Create(*s.env, std::move(transport), s.options.connection);
  if (!made.ok()) return made.status();
  std::shared_ptr<Conn> conn = *std::move(made);
  std::string identity;
  if (s.options.identify) {
    CallContext check(*s.env, ctx);
    check.SetDeadline(deadline);
    absl::StatusOr<std::string> id = s.options.identify(*conn, check, key);
    absl::Status refused = id.status();
    if (id.ok()) {
      auto [pin, first] = s.pinned.emplace(std::string(key), *id);
      if (!first && pin->second != *id) {
        ++s.stats.identity_mismatches;
        s.Count(Metric::kPoolIdentityMismatches);
        refused = absl::FailedPreconditionError(
            absl::StrCat("pool: the server at ", key, " is now \"", *id, "\", expected \"",
                         pin->second, "\" (Pool::Forget accepts the change)"));
      }
      identity = *std::move(id);
    }
    if (!refused.ok()) {
      conn->Close();
      return refused;
    }
  }
  if (s.closed) {
    conn->Close();
    return ClosedError("pool closed");
  }
  ++s.leased;
  return std::unique_ptr<PooledConn>(new PooledConn(state_, std::string(key), std::move(conn),
                                                    std::move(identity), s.next_connection_id++));
}

// --- PooledConn ----------------------------------------------------------------------------------

PooledConn::PooledConn(std::shared_ptr<Pool::State> state, std::string key,
                       std::shared_ptr<Conn> conn, std::string identity, uint64_t connection_id)
    : state_(std::move(state)),
      key_(std::move(key)),
      conn_(std::move(conn)),
      identity_(std::move(identity)),
      connection_id_(connection_id),
      closed_(*state_->env) {
  conn_watch_ = conn_->closed().OnSet([this](const absl::Status& why) {
    conn_watch_ = 0;
    closed_.Set(ClosedError(absl::StrCat("pooled connection to ", key_, " ended"), why));
  });
}

PooledConn::~PooledConn() { Close(); }

absl::Status PooledConn::Usable() const {
  if (closed_.IsSet()) return closed_.status();
  return absl::OkStatus();
}

absl::StatusOr<std::string> PooledConn::Invoke(CallContext& ctx, absl::string_view rpc,
                                               absl::string_view request) {
  if (absl::Status s = Usable(); !s.ok()) return s;
  std::shared_ptr<Conn> conn = conn_;  // alive for the whole call, even if the lease closes
  return conn->Invoke(ctx, rpc, request);
}

absl::StatusOr<std::shared_ptr<RpcStream>> PooledConn::NewStream(CallContext& ctx,
                                                                 absl::string_view rpc) {
  if (absl::Status s = Usable(); !s.ok()) return s;
  std::shared_ptr<Conn> conn = conn_;
  absl::StatusOr<std::shared_ptr<RpcStream>> s = conn->NewStream(ctx, rpc);
  if (!s.ok()) return s.status();
  return std::shared_ptr<RpcStream>(std::make_shared<OwningStream>(*std::move(s), conn));
}

void PooledConn::Close() {
  if (conn_ == nullptr) return;
  if (conn_watch_ != 0) {
    conn_->closed().RemoveCallback(conn_watch_);
    conn_watch_ = 0;
  }
  closed_.Set(ClosedError(absl::StrCat("lease on ", key_, " closed")));
  state_->Return(key_, std::move(conn_), identity_, connection_id_);
  conn_ = nullptr;
}

}  // namespace drpc
