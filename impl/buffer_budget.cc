#include "impl/buffer_budget.h"

#include <algorithm>
#include <utility>

#include "impl/tunables.h"
#include "proto/base/check.h"

namespace drpc {

ServerBuffers::ServerBuffers(size_t max_bytes) : max_bytes_(max_bytes) {
  DRPC_CHECK_GT(max_bytes_, 0u);
}

ServerBuffers::~ServerBuffers() {
  DRPC_CHECK_EQ(used_bytes(), 0u) << "server buffer budget destroyed while bytes are counted";
}

void ServerBuffers::Add(size_t n) {
  const size_t now = used_.fetch_add(n, std::memory_order_relaxed) + n;
  size_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void ServerBuffers::Sub(size_t n) {
  const size_t before = used_.fetch_sub(n, std::memory_order_relaxed);
  DRPC_CHECK_GE(before, n) << "server buffer budget released more than it counted";
}

ConnectionBuffers::ConnectionBuffers(Env& env, Limits limits)
    : env_(&env), limits_(limits), room_(env) {
  DRPC_CHECK(limits_.max_bytes == 0 || limits_.reserved_bytes <= limits_.max_bytes);
}

ConnectionBuffers::~ConnectionBuffers() {
  if (limits_.server != nullptr && charged_to_server_ > 0) limits_.server->Sub(charged_to_server_);
}

void ConnectionBuffers::Reconcile() {
  if (limits_.server == nullptr) return;
  const size_t share = held_ > limits_.reserved_bytes ? held_ - limits_.reserved_bytes : 0;
  if (share > charged_to_server_) {
    limits_.server->Add(share - charged_to_server_);
  } else if (share < charged_to_server_) {
    limits_.server->Sub(charged_to_server_ - share);
  }
  charged_to_server_ = share;
}

void ConnectionBuffers::AttachServer(ServerBuffers* server) {
  DRPC_CHECK_EQ(held_, 0u) << "a server budget attached to a connection that holds bytes";
  limits_.server = server;
}

void ConnectionBuffers::SetChanged(Kind kind, size_t n) {
  const size_t now = held_bytes(kind);
  if (n > now) Add(kind, n - now);
  if (n < now) Sub(kind, now - n);
}

bool ConnectionBuffers::WaitForRoom(Instant deadline, const char* reason) {
  if (!over_budget()) return true;
  // Bytes released by other connections (perhaps on other threads) wake nobody here: while the
  // server budget is what stops us, look again every kBufferRoomPoll.
  Instant until = deadline;
  if (over_server_budget()) {
    until = std::min(deadline, env_->clock().Now() + tunables::kBufferRoomPoll);
  }
  room_.Wait(reason, until);
  return !over_budget();
}

}  // namespace drpc
