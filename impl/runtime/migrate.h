// The accepting side of the drpcmigrate header (docs/protocol.md §10): a client of a server that shares its
// listener sends "DRPC!!!1" before its first frame; the server reads exactly those 8 bytes and
// serves the rest of the connection as DRPC.
//
//   if (absl::Status s = ReadMigrateHeader(env, *transport, Duration::Seconds(10)); !s.ok()) {
//     transport->Close();   // not a drpcmigrate client, or too slow
//   }
//
// Unlike Go's drpcmigrate, the read has a deadline, so a silent client cannot hold a fiber for
// ever. (The dialing side is DialOptions::migrate_header in tcp.h.)
#ifndef DRPC_IMPL_RUNTIME_MIGRATE_H_
#define DRPC_IMPL_RUNTIME_MIGRATE_H_

#include "absl/status/status.h"
#include "impl/env.h"
#include "impl/time.h"

namespace drpc::runtime {

// Reads exactly the 8 header bytes from `transport` (never more, so the first frame stays unread)
// on a fiber of `env`. Errors: kDeadlineExceeded if they did not arrive within `timeout` (the
// transport is then closed: the timer closes it to wake the read, so its Close must be safe from
// a timer callback, as TcpTransport's is); kInvalidArgument if the bytes differ (hex in the
// message); the transport's error if the connection ended first.
absl::Status ReadMigrateHeader(Env& env, Transport& transport, Duration timeout);

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_MIGRATE_H_
