// The drpcmigrate connection prefix (docs/protocol.md §10): 8 ASCII bytes "DRPC!!!1" sent once, before the
// first frame, by clients of servers that share a listener with other protocols.
#ifndef DRPC_PROTO_MIGRATE_H_
#define DRPC_PROTO_MIGRATE_H_

#include "absl/strings/string_view.h"
#include "proto/limits.h"

namespace drpc {

inline constexpr absl::string_view kMigrateHeader = "DRPC!!!1";
static_assert(kMigrateHeader.size() == limits::kMigrateHeaderBytes);

}  // namespace drpc

#endif  // DRPC_PROTO_MIGRATE_H_
