// Wire-level test setups on the simulator: our client against a RawPeer playing the server, a
// RawPeer playing the client against our server, and a RawPeer against a bare Manager (to look at
// a manager's internals) (testonly). `network` configures the simulated link (e.g. a small
// buffer_bytes, so that a RawPeer that pauses reading blocks our writes soon).
#ifndef DRPC_SIM_TESTING_WIRE_HARNESS_H_
#define DRPC_SIM_TESTING_WIRE_HARNESS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "impl/conn.h"
#include "impl/manager.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/testing/raw_peer.h"
#include "sim/simulation.h"

namespace drpc::testing {

struct ClientSide {
  Conn& conn;
  RawPeer& server;  // the raw peer standing in for the server
  // Every transport write our client made, in order.
  std::shared_ptr<std::vector<std::string>> writes;
  sim::SimContext& sim;
};

struct ServerSide {
  RawPeer& client;  // the raw peer standing in for the client
  Server& server;
  sim::SimContext& sim;
  // Set once ServeConn returned, with its status.
  Signal& served;
  // Every transport write our server made, in order.
  std::shared_ptr<std::vector<std::string>> writes;
};

struct ManagerSide {
  Manager& manager;
  RawPeer& peer;  // the raw peer at the other end
  sim::SimContext& sim;
};

sim::RunResult RunClient(const Options& options, std::function<void(ClientSide&)> body,
                         uint64_t seed = 1, const sim::NetworkOptions& network = {});
sim::RunResult RunServer(const Options& options, std::function<void(ServerSide&)> body,
                         uint64_t seed = 1, const Router* router = nullptr,
                         const sim::NetworkOptions& network = {});
// A Manager of `role` over a pipe to a RawPeer; the manager is closed after `body`.
sim::RunResult RunManager(const Options& options, Manager::Role role,
                          std::function<void(ManagerSide&)> body, uint64_t seed = 1,
                          const sim::NetworkOptions& network = {});

// Fails the run unless `got` equals `want`, printing both as frames.
void ExpectFrames(sim::SimContext& sim, absl::string_view what, absl::string_view got,
                  const std::vector<RawFrame>& want);

}  // namespace drpc::testing

#endif  // DRPC_SIM_TESTING_WIRE_HARNESS_H_
