#include "examples/kv/kv_service.h"

#include <vector>

namespace kv {

absl::StatusOr<GetResponse> KvService::Get(drpc::CallContext&, const GetRequest& request) {
  absl::StatusOr<std::optional<Entry>> entry = store_->Get(request.key());
  if (!entry.ok()) return entry.status();
  GetResponse response;
  response.set_revision(store_->revision());
  if (entry->has_value()) {
    response.set_found(true);
    *response.mutable_entry() = **entry;
  }
  return response;
}

absl::StatusOr<PutResponse> KvService::Put(drpc::CallContext&, const PutRequest& request) {
  absl::StatusOr<int64_t> revision = store_->Put(request.key(), request.value());
  if (!revision.ok()) return revision.status();
  PutResponse response;
  response.set_revision(*revision);
  return response;
}

absl::StatusOr<DeleteResponse> KvService::Delete(drpc::CallContext&,
                                                 const DeleteRequest& request) {
  absl::StatusOr<std::optional<int64_t>> revision = store_->Delete(request.key());
  if (!revision.ok()) return revision.status();
  DeleteResponse response;
  response.set_deleted(revision->has_value());
  response.set_revision(revision->value_or(store_->revision()));
  return response;
}

absl::Status KvService::Watch(drpc::CallContext& ctx, const WatchRequest& request,
                              drpc::ServerStreamWriter<Event>& stream) {
  if (request.start_revision() < 0) {
    return absl::InvalidArgumentError("start_revision must not be negative");
  }
  int64_t next = request.start_revision() == 0 ? store_->revision() + 1 : request.start_revision();
  std::vector<Event> events;
  for (;;) {
    events.clear();
    if (absl::Status st = store_->ChangesSince(next, request.prefix(), &events); !st.ok()) {
      return st;  // the watcher fell behind the bounded history
    }
    next = store_->revision() + 1;
    for (const Event& event : events) {
      if (absl::Status st = stream.Send(event); !st.ok()) return st;
    }
    if (absl::Status st = store_->WaitForChange(ctx, next - 1); !st.ok()) return st;
  }
}

}  // namespace kv
