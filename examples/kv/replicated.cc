#include "examples/kv/replicated.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "proto/base/check.h"

namespace kv {
namespace {

absl::Status NotReplicated(absl::string_view what) {
  return drpc::WithRemoteErrorCode(
      absl::UnimplementedError(absl::StrCat(what, " is not replicated in this example")), 12);
}

// Waits on `list` until `done()` or `ctx` ends; false if ctx ended first.
template <typename Done>
bool WaitUntil(drpc::CallContext& ctx, drpc::WaitList& list, absl::string_view reason, Done done) {
  const drpc::Signal::CallbackId wake =
      ctx.done_signal().OnSet([&list](const absl::Status&) { list.WakeAll(); });
  while (!done() && !ctx.done()) list.Wait(reason);
  ctx.done_signal().RemoveCallback(wake);
  return done();
}

}  // namespace

absl::Status ReplayLog(const ChangeLog& log, Store& store) {
  DRPC_CHECK_EQ(store.revision(), 0) << "ReplayLog needs a fresh store";
  for (const ApplyRequest& change : log.changes) {
    absl::StatusOr<int64_t> revision = store.Put(change.key(), change.value());
    if (!revision.ok()) return revision.status();
    DRPC_CHECK_EQ(*revision, change.revision());
  }
  return absl::OkStatus();
}

// --- Replicator ---------------------------------------------------------------------------------

Replicator::Replicator(drpc::Env& env, drpc::ClientConn& backup, const ChangeLog& log,
                       Options options)
    : env_(&env),
      backup_(&backup),
      log_(&log),
      options_(options),
      changed_(env),
      calls_(env) {
  DRPC_CHECK_GT(options_.window, 0u);
}

Replicator::~Replicator() { DRPC_CHECK_EQ(in_flight_, 0u) << "Replicator destroyed while running"; }

void Replicator::Send(drpc::CallContext& stop, int64_t revision) {
  ++in_flight_;
  calls_.Add();
  absl::Status spawned = env_->scheduler().Spawn(
      absl::StrCat("replicate revision ", revision), [this, &stop, revision] {
        drpc::CallContext ctx(*env_, stop);
        ctx.SetTimeout(options_.call_timeout);
        absl::StatusOr<ApplyResponse> response =
            Replica::Client(*backup_).Apply(ctx, log_->changes[revision - 1]);
        if (response.ok()) {
          if (response->applied_revision() > acked_) {
            acked_ = response->applied_revision();
            if (progress_ != nullptr) progress_->WakeAll();
          }
        } else {
          failed_ = true;
        }
        --in_flight_;
        changed_.WakeAll();
        calls_.Done();
      });
  if (!spawned.ok()) {
    --in_flight_;
    failed_ = true;
    calls_.Done();
  }
}

void Replicator::Run(drpc::CallContext& stop) {
  const drpc::Signal::CallbackId wake =
      stop.done_signal().OnSet([this](const absl::Status&) { changed_.WakeAll(); });
  next_ = acked_ + 1;
  while (!stop.done()) {
    if (failed_) {
      if (in_flight_ > 0) {
        changed_.Wait("replicator: waiting for its calls after a failure");
        continue;
      }
      // Go back to what the backup acknowledged and resend from there, after a pause.
      failed_ = false;
      drpc::SleepFor(*env_, options_.retry_after, "replicator: retrying");
      next_ = acked_ + 1;
      continue;
    }
    next_ = std::max(next_, acked_ + 1);  // what the backup holds already is not sent again
    if (in_flight_ < options_.window && next_ <= log_->last()) {
      Send(stop, next_++);
    } else {
      changed_.Wait("replicator: waiting for the log or a reply");
    }
  }
  stop.done_signal().RemoveCallback(wake);
  calls_.Wait("replicator: joining its calls");
}

// --- PrimaryService -----------------------------------------------------------------------------

PrimaryService::PrimaryService(drpc::Env& env, Store& store, ChangeLog& log,
                               std::vector<Replicator*> replicators)
    : store_(&store),
      reads_(store),
      log_(&log),
      replicators_(std::move(replicators)),
      progress_(env) {
  for (Replicator* r : replicators_) r->set_progress(&progress_);
}

bool PrimaryService::Replicated(int64_t revision) const {
  return std::all_of(replicators_.begin(), replicators_.end(),
                     [revision](const Replicator* r) { return r->acked() >= revision; });
}

absl::StatusOr<GetResponse> PrimaryService::Get(drpc::CallContext& ctx,
                                                const GetRequest& request) {
  return reads_.Get(ctx, request);
}

absl::StatusOr<PutResponse> PrimaryService::Put(drpc::CallContext& ctx, const PutRequest& request) {
  absl::StatusOr<int64_t> revision = store_->Put(request.key(), request.value());
  if (!revision.ok()) return revision.status();
  DRPC_CHECK_EQ(*revision, log_->last() + 1) << "the store and its log disagree";
  ApplyRequest change;
  change.set_revision(*revision);
  change.set_key(request.key());
  change.set_value(request.value());
  log_->changes.push_back(std::move(change));
  for (Replicator* r : replicators_) r->Notify();
  if (!WaitUntil(ctx, progress_, "primary: waiting for the backups",
                 [&] { return Replicated(*revision); })) {
    return ctx.err();  // the caller gave up; the change stays in the log and replicates
  }
  PutResponse response;
  response.set_revision(*revision);
  return response;
}

absl::StatusOr<DeleteResponse> PrimaryService::Delete(drpc::CallContext&, const DeleteRequest&) {
  return NotReplicated("Delete");
}

absl::Status PrimaryService::Watch(drpc::CallContext&, const WatchRequest&,
                                   drpc::ServerStreamWriter<Event>&) {
  return NotReplicated("Watch");
}

// --- BackupService ------------------------------------------------------------------------------

absl::StatusOr<ApplyResponse> BackupService::Apply(drpc::CallContext& ctx,
                                                   const ApplyRequest& request) {
  const int64_t revision = request.revision();
  if (revision <= 0) return absl::InvalidArgumentError("revisions start at 1");
#ifdef DRPC_KV_BUGGY_APPLY
  // The planted bug (--//examples/kv:buggy): apply each change as its call arrives. The primary
  // pipelines its Apply calls on one multiplexed connection, each handled on its own fiber, so two
  // changes of one key can be applied in the wrong order — and a resent old change overwrites a
  // newer one. A backup then serves a value older than a write it acknowledged.
  (void)ctx;
  Entry& entry = disk_->entries[request.key()];
  entry.set_key(request.key());
  entry.set_value(request.value());
  entry.set_revision(revision);
  disk_->applied = std::max(disk_->applied, revision);
#else
  // In revision order: wait for the predecessor (the primary resends after a failure).
  if (!WaitUntil(ctx, changed_, "backup: waiting for the previous change",
                 [&] { return disk_->applied >= revision - 1; })) {
    return ctx.err();
  }
  if (revision == disk_->applied + 1) {
    Entry& entry = disk_->entries[request.key()];
    entry.set_key(request.key());
    entry.set_value(request.value());
    entry.set_revision(revision);
    disk_->applied = revision;
    changed_.WakeAll();
  }
#endif
  ApplyResponse response;
  response.set_applied_revision(disk_->applied);
  return response;
}

absl::StatusOr<GetResponse> BackupService::Get(drpc::CallContext&, const GetRequest& request) {
  GetResponse response;
  response.set_revision(disk_->applied);
  if (auto it = disk_->entries.find(request.key()); it != disk_->entries.end()) {
    response.set_found(true);
    *response.mutable_entry() = it->second;
  }
  return response;
}

absl::StatusOr<PutResponse> BackupService::Put(drpc::CallContext&, const PutRequest&) {
  return drpc::WithRemoteErrorCode(
      absl::FailedPreconditionError("a backup does not take writes: send them to the primary"), 9);
}

absl::StatusOr<DeleteResponse> BackupService::Delete(drpc::CallContext&, const DeleteRequest&) {
  return NotReplicated("Delete");
}

absl::Status BackupService::Watch(drpc::CallContext&, const WatchRequest&,
                                  drpc::ServerStreamWriter<Event>&) {
  return NotReplicated("Watch");
}

}  // namespace kv
