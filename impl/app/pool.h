// Pool: connections kept for reuse, keyed by address, with a capacity per key and in total, an
// idle expiry, and only healthy connections handed out — cockroachdb/drpc's drpcpool, without its
// transparent re-dial (see "Never a different server behind a lease" below).
//
//   Pool pool(env, dialer, PoolOptions{.key_capacity = 4, .capacity = 64});
//   absl::StatusOr<std::unique_ptr<PooledConn>> lease = pool.Get(ctx, "10.0.0.7:7777");
//   (*lease)->Invoke(ctx, "/pkg.Svc/Method", "req");       // a ClientConn: stubs take it
//   lease->reset();                                        // back to the pool (if still healthy)
//   pool.Close();                                          // closes idle connections
//
// Get hands out an idle connection of the key (oldest first, skipping any that broke while idle)
// or dials a new one. A lease returns its connection when closed or destroyed: kept if it is
// still healthy and the pool is open, up to `key_capacity` idle per key and `capacity` in all
// (beyond them the oldest idle connection is closed); an idle connection is closed after
// `idle_expiry`. The pool bounds idle connections, not leases: every Get that finds nothing idle
// dials. Late returns after Close() are closed, never cached.
//
// Never a different server behind a lease (cockroachdb/drpc's drpcpool re-dials inside a pooled
// conn on every call, so after the server at an address died and another took its port, calls on
// the "same" conn silently reached the other server; cockroachdb/cockroach#169068):
//   * A lease is bound to exactly one connection for its whole life. It never dials. When that
//     connection ends, closed() is set with the cause and every later call fails with
//     "closed: ..." — the caller sees the break and must Get a new lease, where its own checks
//     (heartbeats, identity) run again.
//   * With `identify`, every new connection is asked for the server's identity before it is
//     handed out; the first identity seen for a key is pinned, and a connection that answers
//     with another is closed and Get fails with kFailedPrecondition ("pool: the server at KEY is
//     now B, expected A") — until Forget(key) accepts the change.
//
// Threading: belongs to `env`'s Scheduler; call from its fibers. Leases may outlive the Pool
// object (their connections are then closed on return).
#ifndef DRPC_IMPL_APP_POOL_H_
#define DRPC_IMPL_APP_POOL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/app/metrics.h"
#include "impl/client_conn.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/options.h"
#include "impl/sync.h"

namespace drpc {

struct PoolOptions {
  // Idle connections kept per key, and in all (>= 1 each; key_capacity <= capacity).
  size_t key_capacity = 4;
  size_t capacity = 64;
  // An idle connection is closed after this long unused (Infinite: never).
  Duration idle_expiry = Duration::Seconds(60);
  Options connection;
  Duration dial_timeout = Duration::Seconds(10);
  // The server's identity on a new connection (e.g. a node ID from a heartbeat RPC); null: no
  // identity check. The context ends with the dial timeout.
  std::function<absl::StatusOr<std::string>(ClientConn& conn, CallContext& ctx,
                                            absl::string_view key)>
      identify;
  std::function<std::unique_ptr<Transport>(std::unique_ptr<Transport>)> wrap_transport;
  MetricsSink* metrics = nullptr;  // pool hits/misses, identity mismatches, dials (kClient)

  absl::Status Validate() const;
};

class PooledConn;

class Pool {
 public:
  // `dialer` must outlive every lease.
  Pool(Env& env, Dialer& dialer, PoolOptions options);
  ~Pool();  // requires Close()
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A lease on one healthy connection to `key` (an address for the dialer). Errors: the dial's,
  // kFailedPrecondition for an identity mismatch, "closed: pool closed" after Close, ctx.err().
  absl::StatusOr<std::unique_ptr<PooledConn>> Get(CallContext& ctx, absl::string_view key);

  // Closes every idle connection; leases returned later are closed too. Waits for connections
  // being closed. Idempotent.
  void Close();

  // Drops the identity pinned for `key`: the next new connection pins whatever it answers.
  void Forget(absl::string_view key);

  struct Stats {
    size_t idle = 0;
    size_t leased = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t expired = 0;   // idle connections closed by idle_expiry
    uint64_t evicted = 0;   // idle connections closed for capacity
    uint64_t discarded = 0; // returned or idle connections found broken
    uint64_t identity_mismatches = 0;
  };
  Stats stats() const;

  // Shared with leases (internal).
  struct State;

 private:
  std::shared_ptr<State> state_;
};

// A ClientConn on one pooled connection (see Pool). Close() (or destruction) returns it.
class PooledConn final : public ClientConn {
 public:
  ~PooledConn() override;
  absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                     absl::string_view request) override;
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                       absl::string_view rpc) override;
  // Returns the connection to the pool (or closes it). Later calls fail with "closed". Streams
  // opened on the lease should be finished first (they keep the connection alive, and an
  // upstream-mode connection serves one stream at a time).
  void Close() override;
  // Set when the lease is closed or its connection ended, with the cause.
  Signal& closed() override { return closed_; }

  const std::string& key() const { return key_; }
  // The identity `identify` returned for this connection ("" without identify).
  const std::string& identity() const { return identity_; }
  // Unique per connection of the pool (a new dial gets a new id).
  uint64_t connection_id() const { return connection_id_; }

 private:
  friend class Pool;
  PooledConn(std::shared_ptr<Pool::State> state, std::string key, std::shared_ptr<Conn> conn,
             std::string identity, uint64_t connection_id);
  absl::Status Usable() const;

  std::shared_ptr<Pool::State> state_;
  std::string key_;
  std::shared_ptr<Conn> conn_;  // null once returned
  std::string identity_;
  uint64_t connection_id_;
  Signal closed_;
  Signal::CallbackId conn_watch_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_APP_POOL_H_
