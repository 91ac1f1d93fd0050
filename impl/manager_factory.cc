#include "impl/manager_factory.h"

#include <utility>

#include "impl/mux_manager.h"
#include "impl/upstream_manager.h"
#include "proto/base/check.h"

namespace drpc {

absl::StatusOr<std::unique_ptr<Manager>> CreateManager(Env& env,
                                                       std::unique_ptr<Transport> transport,
                                                       Manager::Role role, const Options& options,
                                                       ServerBuffers* server_buffers) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  DRPC_CHECK(transport != nullptr);
  std::unique_ptr<Manager> m;
  if (options.mux) {
    m = std::make_unique<MuxManager>(env, std::move(transport), role, options);
  } else {
    m = std::make_unique<UpstreamManager>(env, std::move(transport), role, options);
  }
  if (server_buffers != nullptr) m->AttachServerBuffers(server_buffers);
  if (absl::Status started = m->Start(); !started.ok()) {
    // No fiber for the reader or the writer (out of stacks): the connection never starts.
    m->Terminate(started);
    m->Close();
    return started;
  }
  return m;
}

}  // namespace drpc
