// CallContext: the cancellation scope of a call (Go's context.Context, reduced to what DRPC uses):
// a one-shot "done" signal with the reason, an optional deadline, a parent, and metadata —
// outgoing and incoming kept apart.
//
//   CallContext ctx(env);
//   ctx.SetTimeout(Duration::Seconds(2));          // done with "context deadline exceeded" later
//   ctx.metadata()["authorization"] = "token";      // client: sent as InvokeMetadata
//   absl::StatusOr<std::string> reply = conn.Invoke(ctx, "/pkg.Svc/Echo", "hi");
//   ctx.Cancel();                                   // done with "context canceled"
//
// A child context is done when its parent is (with the parent's reason) or when cancelled itself.
// Server handlers get a context that is done when their stream ends, the connection ends, or the
// server shuts down.
//
// Metadata (docs/protocol.md §5.2, §13 item 9): metadata() is what a client call made with this context
// sends; incoming_metadata() is what a server handler received from its client. They are
// separate on purpose: unlike a Go drpc server, a handler that makes a further call — with its own
// context or a child of it — forwards nothing unless it copies entries into metadata() itself.
// A child sees its parent's incoming metadata (it describes the same call) but starts with empty
// outgoing metadata. Deadlines never travel on the wire either (§13 item 16): a client deadline
// cancels the call locally (upstream: as configured; mux: a Cancel packet).
// A CallContext belongs to one Scheduler (impl/env.h). Destroying it cancels it (like Go's
// `defer cancel()`): calls still running on it end with Canceled.
#ifndef DRPC_IMPL_CONTEXT_H_
#define DRPC_IMPL_CONTEXT_H_

#include <optional>

#include "absl/status/status.h"
#include "impl/env.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "impl/time.h"
#include "proto/metadata.h"

namespace drpc {

class CallContext {
 public:
  explicit CallContext(Env& env);
  CallContext(Env& env, CallContext& parent);
  ~CallContext();
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;

  // Marks the context done with `reason` (not OK). The first reason wins. Never blocks; work
  // registered through done_signal().OnSet runs inside this call.
  void Cancel(absl::Status reason = ::drpc::CanceledError());

  // The context becomes done with DeadlineError() at `deadline` (the earlier deadline wins).
  void SetDeadline(Instant deadline);
  void SetTimeout(Duration timeout) { SetDeadline(env_->clock().Now() + timeout); }
  Instant deadline() const { return deadline_; }

  bool done() const { return done_.IsSet(); }
  // OK while not done; then the reason (Canceled, DeadlineExceeded, or what Cancel was given).
  absl::Status err() const { return done_.IsSet() ? done_.status() : absl::OkStatus(); }
  Signal& done_signal() { return done_; }

  // Outgoing: sent as InvokeMetadata by calls made with this context. Starts empty.
  Metadata& metadata() { return metadata_; }
  const Metadata& metadata() const { return metadata_; }

  // Incoming: the client's metadata of the call this context serves (set by the server), else
  // the nearest ancestor's, else empty. The ancestors must outlive this context (they do: a
  // child must be destroyed before its parent).
  const Metadata& incoming_metadata() const;
  void set_incoming_metadata(Metadata metadata);
  // The same, without a copy: the context reads `*metadata`, which must stay unchanged and alive
  // while the context (or a child) may read it. For a server, whose connection keeps the map's
  // storage for the next call once the handler returned.
  void set_incoming_metadata(const Metadata* metadata);

  Env& env() const { return *env_; }

 private:
  Env* env_;
  Signal done_;
  Instant deadline_ = Instant::Infinite();
  TimerId deadline_timer_ = 0;
  CallContext* parent_ = nullptr;
  Signal::CallbackId parent_callback_ = 0;
  Metadata metadata_;
  const Metadata* incoming_metadata_ = nullptr;  // null: the nearest ancestor's
  std::optional<Metadata> own_incoming_metadata_;  // set_incoming_metadata(Metadata)'s
};

}  // namespace drpc

#endif  // DRPC_IMPL_CONTEXT_H_
