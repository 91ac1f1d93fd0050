#include "sim/drpc/wire_oracle.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "sim/drpc/wire_end_model.h"

namespace drpc::sim {

WireEndConfig WireEndConfig::For(const Options& o, bool client) {
  return WireEndConfig{.client = client,
                       .mux = o.mux,
                       .split_bytes = o.split_bytes,
                       .flow_control = o.mux && o.flow.enabled,
                       .stream_window_bytes = o.flow.stream_window_bytes,
                       .grant_threshold_bytes = o.flow.grant_threshold_bytes,
                       .error_format = o.ErrorFormatOrDefault()};
}
namespace {

// Test hook (WireOracle::set_relay_for_testing).
bool relay_enabled = true;

// The tap around a transport that is not the simulated network's own (whose endpoints carry the
// model inside: SimNetwork::SetTap).
class TapTransport final : public Transport {
 public:
  TapTransport(std::unique_ptr<Transport> inner, std::unique_ptr<SimNetwork::EndpointTap> model)
      : inner_(std::move(inner)), model_(std::move(model)) {}

  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    absl::StatusOr<size_t> n = inner_->Read(buf, size);
    if (n.ok()) model_->OnRead(absl::string_view(buf, *n));
    return n;
  }
  absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans) override {
    absl::StatusOr<size_t> n = inner_->ReadV(spans);
    if (n.ok()) model_->OnReadV(spans, *n);
    return n;
  }
  // Checked before it is sent: what this end tried to send is what it meant to send, even if a
  // fault cuts it short.
  absl::Status Write(absl::string_view data) override {
    model_->OnWrite(data);
    return inner_->Write(data);
  }
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Transport> inner_;
  std::unique_ptr<SimNetwork::EndpointTap> model_;
};

class TapListener final : public Listener {
 public:
  TapListener(WireOracle& oracle, std::unique_ptr<Listener> inner, std::string name,
              const WireEndConfig& config)
      : oracle_(&oracle), inner_(std::move(inner)), name_(std::move(name)), config_(config) {}

  absl::StatusOr<std::unique_ptr<Transport>> Accept() override {
    absl::StatusOr<std::unique_ptr<Transport>> t = inner_->Accept();
    if (!t.ok()) return t.status();
    return oracle_->Tap(*std::move(t), absl::StrCat(name_, "/", ++accepted_), config_);
  }
  void Close() override { inner_->Close(); }

 private:
  WireOracle* oracle_;
  std::unique_ptr<Listener> inner_;
  std::string name_;
  WireEndConfig config_;
  uint64_t accepted_ = 0;
};

}  // namespace

WireOracle::WireOracle(absl::AnyInvocable<void(std::string)> on_violation)
    : on_violation_(std::move(on_violation)) {}

WireOracle::~WireOracle() = default;

std::unique_ptr<Transport> WireOracle::Tap(std::unique_ptr<Transport> inner, std::string name,
                                           const WireEndConfig& config) {
  DRPC_CHECK(inner != nullptr);
  std::optional<SimNetwork::EndpointId> endpoint;
  if (trace_ctx_ != nullptr) endpoint = trace_ctx_->network().IdentifyEndpoint(*inner);
  auto end_model = std::make_unique<EndModel>(*this, std::move(name), config, endpoint);
  EndModel& model = *end_model;
  std::unique_ptr<SimNetwork::EndpointTap> tap = std::move(end_model);
  if (!SimNetwork::SetTap(*inner, tap)) {
    return std::make_unique<TapTransport>(std::move(inner), std::move(tap));
  }
  // Relays pair the two ends of a simulated connection; a recorded run parses both ways, since
  // the recorder takes whole frames.
  if (endpoint.has_value() && relay_enabled && trace_ctx_->recorder() == nullptr) {
    ConnectionRelays& c = relays_[endpoint->connection];
    for (std::shared_ptr<Relay>& r : c.direction) {
      if (r == nullptr) r = std::make_shared<Relay>();
    }
    const int end = endpoint->end;
    model.AttachRelays(c.direction[end], c.direction[1 - end]);
    if (++c.ends_tapped == 2) relays_.erase(endpoint->connection);
  }
  return inner;
}

std::unique_ptr<Listener> WireOracle::TapListener(std::unique_ptr<Listener> inner, std::string name,
                                                  const WireEndConfig& config) {
  DRPC_CHECK(inner != nullptr);
  return std::make_unique<sim::TapListener>(*this, std::move(inner), std::move(name), config);
}

void WireOracle::set_relay_for_testing(bool relay) { relay_enabled = relay; }

void WireOracle::set_received_probe_for_testing(ReceivedProbe* probe) {
  wire_internal::received_probe = probe;
}

void WireOracle::set_full_checks_for_testing(bool full) { wire_internal::full_checks = full; }

void WireOracle::Violation(std::string why) {
  ++stats_.violations;
  on_violation_(std::move(why));
}

}  // namespace drpc::sim
