// CreateManager: the connection of the mode Options::mux selects — an UpstreamManager
// (impl/upstream_manager.h) or a MuxManager (impl/mux_manager.h) behind the Manager interface.
// Conn and Server make their connections with it; the two modes are separate libraries and only
// this one links both.
//
//   absl::StatusOr<std::unique_ptr<Manager>> m =
//       CreateManager(env, std::move(transport), Manager::Role::kServer, options);
//   if (!m.ok()) return m.status();   // kInvalidArgument: options out of range
#ifndef DRPC_IMPL_MANAGER_FACTORY_H_
#define DRPC_IMPL_MANAGER_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "impl/env.h"
#include "impl/manager.h"
#include "impl/options.h"

namespace drpc {

// Validates `options` (kInvalidArgument naming the first bad field) and starts a connection of
// `role` over `transport` (not null) in the mode options.mux selects: its reader (and, in mux
// mode, its writer) fiber is spawned on the Env's scheduler.
// `server_buffers` (a server's, may be null) is the budget what the connection holds beyond its
// reservation counts against (Manager::AttachServerBuffers).
absl::StatusOr<std::unique_ptr<Manager>> CreateManager(Env& env,
                                                       std::unique_ptr<Transport> transport,
                                                       Manager::Role role, const Options& options,
                                                       ServerBuffers* server_buffers = nullptr);

}  // namespace drpc

#endif  // DRPC_IMPL_MANAGER_FACTORY_H_
