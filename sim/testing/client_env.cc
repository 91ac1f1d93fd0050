#include "sim/testing/client_env.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace drpc::sim {

bool FaultyDialer::SleepUntil(Instant until, Instant deadline) {
  const Instant wake = std::min(until, deadline);
  const Instant now = ctx_->now();
  if (wake > now) SleepFor(ctx_->env(), wake - now, "dial: connecting (simulated)");
  return until <= deadline;
}

absl::StatusOr<std::unique_ptr<Transport>> FaultyDialer::Dial(absl::string_view address,
                                                              Instant deadline) {
  ++stats_.dials;
  if (!ctx_->network().healed()) {
    if (ctx_->Chance("dial.refuse", faults_.refuse_per_mille)) {
      ++stats_.refused;
      return absl::UnavailableError(absl::StrCat("dial ", address, ": connection refused"));
    }
    if (ctx_->Chance("dial.hang", faults_.hang_per_mille)) {
      ++stats_.hung;
      SleepUntil(Instant::Infinite(), deadline);
      return absl::DeadlineExceededError(absl::StrCat("dial ", address, ": timed out"));
    }
    if (ctx_->Chance("dial.slow", faults_.slow_per_mille)) {
      ++stats_.slow;
      const int64_t max_us = std::max<int64_t>(1, faults_.slow_max.nanos() / 1000);
      const Duration delay =
          Duration::Micros(1 + static_cast<int64_t>(ctx_->Choose("dial.slow_us", max_us)));
      if (!SleepUntil(ctx_->now() + delay, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat("dial ", address, ": timed out"));
      }
    }
  }
  absl::StatusOr<std::unique_ptr<Transport>> t = ctx_->network().Dial(address, deadline);
  if (t.ok()) ++stats_.connected;
  return t;
}

SimServer::SimServer(SimContext& ctx, std::string address, const Handler& handler,
                     Options options, Duration grace)
    : ctx_(&ctx),
      address_(std::move(address)),
      handler_(&handler),
      options_(std::move(options)),
      grace_(grace) {}

SimServer::~SimServer() { DRPC_CHECK(server_ == nullptr) << "SimServer destroyed while running"; }

absl::Status SimServer::Start() {
  DRPC_CHECK(server_ == nullptr);
  absl::StatusOr<std::unique_ptr<Listener>> l = ctx_->network().Listen(address_);
  if (!l.ok()) return l.status();
  listener_ = *std::move(l);
  server_ = std::make_unique<Server>(ctx_->env(), *handler_, options_);
  if (observer_) server_->set_error_observer([this](const absl::Status& s) { observer_(s); });
  serving_done_ = std::make_unique<Signal>(ctx_->env());
  ++starts_;
  return ctx_->env().scheduler().Spawn(absl::StrCat("sim server ", address_, " #", starts_),
                                       [this] {
                                         server_->Serve(*listener_).IgnoreError();
                                         serving_done_->Set();
                                       });
}

void SimServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(ctx_->now() + grace_);
  listener_->Close();
  serving_done_->Wait("sim server stop: joining Serve");
  server_.reset();
  listener_.reset();
  serving_done_.reset();
}

}  // namespace drpc::sim
