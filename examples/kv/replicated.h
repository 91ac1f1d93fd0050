// A replicated key-value store: one primary and its backups, over drpc (examples/kv/kv.proto for
// clients, examples/kv/replication.proto between the nodes).
//
//   // The primary: a Store rebuilt from its durable log, a Replicator per backup.
//   kv::Store store(env);
//   kv::ReplayLog(log, store);
//   kv::Replicator to_b1(env, backup1_conn, log);        // sends the log to backup1, in order
//   kv::PrimaryService primary(env, store, log, {&to_b1, &to_b2});
//   kv::KeyValue::Register(router, primary);              // Put answers once every backup holds it
//   env.scheduler().Spawn("replicate", [&] { to_b1.Run(stop_ctx); });
//
//   // A backup: its state is its disk.
//   kv::BackupService backup(env, disk);
//   kv::Replica::Register(router, backup);                // Apply, from the primary
//   kv::KeyValue::Register(router, backup);               // Get, for clients
//
// Guarantee: once Put returns revision R, every backup holds every change up to R, so a read of
// any node afterwards sees that write or a later one (read-your-writes, also across nodes).
// Replication is pipelined: a Replicator keeps up to `window` Apply calls in flight on its
// (multiplexed) connection, and a backup applies the changes in revision order — a change that
// arrives before its predecessor waits for it. A failed call makes the Replicator go back to the
// backup's acknowledged revision and resend from there (a backup acknowledges what it already
// holds again); a restarted primary resends its whole log the same way.
//
// Only Get and Put are replicated; Delete and Watch answer UNIMPLEMENTED (code 12). Every object
// belongs to one Scheduler (impl/env.h), like the Store.
#ifndef DRPC_EXAMPLES_KV_REPLICATED_H_
#define DRPC_EXAMPLES_KV_REPLICATED_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "examples/kv/kv.drpc.h"
#include "examples/kv/kv_service.h"
#include "examples/kv/replication.drpc.h"
#include "examples/kv/store.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/sync.h"

namespace kv {

// The primary's durable log: revision N is changes[N - 1]. In production a file; a simulation
// keeps it across crashes.
struct ChangeLog {
  std::vector<ApplyRequest> changes;
  int64_t last() const { return static_cast<int64_t>(changes.size()); }
};

// A backup's durable state: what it holds, and up to which revision.
struct BackupDisk {
  std::map<std::string, Entry> entries;
  int64_t applied = 0;
};

// Rebuilds a fresh Store from `log` (the primary's boot). `store` must be empty.
absl::Status ReplayLog(const ChangeLog& log, Store& store);

// Sends `log` to one backup, in order, with up to `window` Apply calls in flight.
class Replicator {
 public:
  struct Options {
    size_t window = 4;
    drpc::Duration call_timeout = drpc::Duration::Millis(100);
    drpc::Duration retry_after = drpc::Duration::Millis(10);
  };
  // `backup` and `log` must outlive this.
  Replicator(drpc::Env& env, drpc::ClientConn& backup, const ChangeLog& log, Options options);
  Replicator(drpc::Env& env, drpc::ClientConn& backup, const ChangeLog& log)
      : Replicator(env, backup, log, Options()) {}
  ~Replicator();  // requires Run to have returned

  // Replicates until `stop` is done (the node stops), then waits for its calls to end.
  void Run(drpc::CallContext& stop);
  // The log grew.
  void Notify() { changed_.WakeAll(); }
  // The backup holds every change up to this revision.
  int64_t acked() const { return acked_; }
  // Woken whenever acked() grows.
  void set_progress(drpc::WaitList* progress) { progress_ = progress; }

 private:
  void Send(drpc::CallContext& stop, int64_t revision);

  drpc::Env* env_;
  drpc::ClientConn* backup_;
  const ChangeLog* log_;
  Options options_;
  int64_t acked_ = 0;
  int64_t next_ = 1;
  size_t in_flight_ = 0;
  bool failed_ = false;
  drpc::WaitList changed_;
  drpc::WaitList* progress_ = nullptr;
  drpc::WaitGroup calls_;
};

// kv.KeyValue on the primary: Get reads its Store; Put writes the Store and the log, and answers
// once every Replicator has it acknowledged (or fails with the call's own cancellation; the write
// still replicates).
class PrimaryService final : public KeyValue::Server {
 public:
  PrimaryService(drpc::Env& env, Store& store, ChangeLog& log,
                 std::vector<Replicator*> replicators);

  absl::StatusOr<GetResponse> Get(drpc::CallContext& ctx, const GetRequest& request) override;
  absl::StatusOr<PutResponse> Put(drpc::CallContext& ctx, const PutRequest& request) override;
  absl::StatusOr<DeleteResponse> Delete(drpc::CallContext& ctx,
                                        const DeleteRequest& request) override;
  absl::Status Watch(drpc::CallContext& ctx, const WatchRequest& request,
                     drpc::ServerStreamWriter<Event>& stream) override;

 private:
  bool Replicated(int64_t revision) const;

  Store* store_;
  KvService reads_;  // Get is the plain service's: the primary's Store is the source of truth
  ChangeLog* log_;
  std::vector<Replicator*> replicators_;
  drpc::WaitList progress_;
};

// A backup: kv.Replica (Apply, from the primary) and kv.KeyValue's Get (for clients) over its
// disk.
class BackupService final : public Replica::Server, public KeyValue::Server {
 public:
  BackupService(drpc::Env& env, BackupDisk& disk) : disk_(&disk), changed_(env) {}

  absl::StatusOr<ApplyResponse> Apply(drpc::CallContext& ctx, const ApplyRequest& request) override;

  absl::StatusOr<GetResponse> Get(drpc::CallContext& ctx, const GetRequest& request) override;
  absl::StatusOr<PutResponse> Put(drpc::CallContext& ctx, const PutRequest& request) override;
  absl::StatusOr<DeleteResponse> Delete(drpc::CallContext& ctx,
                                        const DeleteRequest& request) override;
  absl::Status Watch(drpc::CallContext& ctx, const WatchRequest& request,
                     drpc::ServerStreamWriter<Event>& stream) override;

 private:
  BackupDisk* disk_;
  drpc::WaitList changed_;  // Apply calls waiting for their predecessor
};

}  // namespace kv

#endif  // DRPC_EXAMPLES_KV_REPLICATED_H_
