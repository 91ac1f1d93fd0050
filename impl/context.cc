#include "impl/context.h"

#include <utility>

#include "impl/errors.h"
#include "proto/base/check.h"

namespace drpc {

CallContext::CallContext(Env& env) : env_(&env), done_(env) {}

CallContext::CallContext(Env& env, CallContext& parent) : env_(&env), done_(env), parent_(&parent) {
  deadline_ = parent.deadline_;
  parent_callback_ = parent.done_.OnSet([this](const absl::Status& reason) {
    parent_callback_ = 0;
    Cancel(reason);
  });
}

CallContext::~CallContext() {
  // A context that goes away cancels what still uses it (Go's `defer cancel()`), so nothing can
  // hold a callback into a destroyed context. Nothing else can see it any more: a context nothing
  // watches (the usual end of a call) is not marked done.
  if (deadline_timer_ != 0) env_->clock().Cancel(deadline_timer_);
  if (done_.watched()) done_.Set(::drpc::CanceledError());
  if (parent_ != nullptr && parent_callback_ != 0) parent_->done_.RemoveCallback(parent_callback_);
}

void CallContext::Cancel(absl::Status reason) {
  if (reason.ok()) reason = ::drpc::CanceledError();
  if (deadline_timer_ != 0) {
    env_->clock().Cancel(deadline_timer_);
    deadline_timer_ = 0;
  }
  done_.Set(std::move(reason));
}

const Metadata& CallContext::incoming_metadata() const {
  static const Metadata* const kNone = new Metadata();
  for (const CallContext* c = this; c != nullptr; c = c->parent_) {
    if (c->incoming_metadata_ != nullptr) return *c->incoming_metadata_;
  }
  return *kNone;
}

void CallContext::set_incoming_metadata(Metadata metadata) {
  own_incoming_metadata_ = std::move(metadata);
  incoming_metadata_ = &*own_incoming_metadata_;
}

void CallContext::set_incoming_metadata(const Metadata* metadata) {
  DRPC_CHECK(metadata != nullptr);
  incoming_metadata_ = metadata;
}

void CallContext::SetDeadline(Instant deadline) {
  // A later deadline changes nothing: the earlier one (ours or a parent's) fires first.
  if (done() || deadline >= deadline_) return;
  deadline_ = deadline;
  if (deadline_timer_ != 0) env_->clock().Cancel(deadline_timer_);
  deadline_timer_ = env_->clock().ScheduleAt(deadline_, [this] {
    deadline_timer_ = 0;
    Cancel(DeadlineError());
  });
}

}  // namespace drpc
