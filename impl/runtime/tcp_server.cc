#include "impl/runtime/tcp_server.h"

#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "impl/runtime/migrate.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::runtime {

// An accepted socket on its way to a reactor. It holds one slot of connections_max (or, for a
// connection over the limit, one of the refusals under way) from the accept until the
// connection ends, or until the hand-off is dropped unrun.
struct TcpServer::Accepted {
  Accepted(TcpServer* server, TcpListener::AcceptedSocket s, bool refuse)
      : owner(server), socket(std::move(s)), refusal(refuse) {
    ++(refusal ? owner->refusing_ : owner->active_);
  }
  ~Accepted() { --(refusal ? owner->refusing_ : owner->active_); }
  Accepted(const Accepted&) = delete;
  Accepted& operator=(const Accepted&) = delete;
  TcpServer* owner;
  TcpListener::AcceptedSocket socket;
  bool refusal;
};

// The part of the server that lives on one reactor.
struct TcpServer::Shard {
  Reactor* reactor = nullptr;
  std::unique_ptr<Server> server;
  std::unique_ptr<WaitGroup> connections;  // fibers in ServeSocket
  std::set<Transport*> handshaking;        // in the drpcmigrate header or accept_handshake
  bool shutting_down = false;
  std::unique_ptr<Signal> acceptor_done;   // reactor 0 only
};

TcpServer::TcpServer(Runtime& runtime, const Handler& handler, TcpServerOptions options)
    : runtime_(&runtime),
      handler_(&handler),
      options_(std::move(options)),
      calls_(options_.connection.server_calls_max_count),
      buffers_(options_.connection.server_buffered_max_bytes) {}

absl::StatusOr<std::unique_ptr<TcpServer>> TcpServer::Start(Runtime& runtime, const Handler& handler,
                                                           TcpServerOptions options) {
  if (absl::Status s = options.connection.Validate(); !s.ok()) return s;
  std::unique_ptr<TcpServer> server(new TcpServer(runtime, handler, std::move(options)));
  TcpServer* self = server.get();
  for (size_t i = 0; i < runtime.reactor_count(); ++i) {
    self->shards_.push_back(std::make_unique<Shard>());
    absl::Status made = runtime.Run(i, [self, i](Reactor& r) -> absl::Status {
      Shard& shard = *self->shards_[i];
      shard.reactor = &r;
      shard.server = std::make_unique<Server>(r.env(), *self->handler_, self->options_.connection,
                                              &self->calls_, &self->buffers_);
      shard.connections = std::make_unique<WaitGroup>(r.env());
      return absl::OkStatus();
    });
    if (!made.ok()) return made;  // the destructor shuts down the shards made so far
  }
  absl::Status listening = runtime.Run(0, [self](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpListener>> l =
        TcpListener::Listen(r, self->options_.address, self->options_.listen);
    if (!l.ok()) return l.status();
    self->listener_ = *std::move(l);
    self->address_ = self->listener_->address();
    self->shards_[0]->acceptor_done = std::make_unique<Signal>(r.env());
    absl::Status spawned = r.Spawn(absl::StrCat("tcp server acceptor ", self->address_),
                                   [self] { self->AcceptLoop(); });
    if (!spawned.ok()) {
      self->listener_.reset();
      self->shards_[0]->acceptor_done.reset();
    }
    return spawned;
  });
  if (!listening.ok()) return listening;
  return server;
}

TcpServer::~TcpServer() { Shutdown(Duration::Zero()); }

TcpServer::Stats TcpServer::stats() const {
  return Stats{.connections_accepted = accepted_.load(),
               .connections_refused = refused_.load(),
               .connections_refused_with_error = refused_with_error_.load(),
               .handshake_failures = handshake_failures_.load(),
               .connections_active = active_.load(),
               .buffered_bytes = buffers_.used_bytes(),
               .buffered_peak_bytes = buffers_.peak_bytes()};
}

void TcpServer::AcceptLoop() {
  for (;;) {
    absl::StatusOr<TcpListener::AcceptedSocket> s = listener_->AcceptSocket();
    if (!s.ok()) {
      if (!absl::IsCancelled(s.status())) {
        std::fprintf(stderr, "drpc TcpServer %s: accept failed, no longer accepting: %s\n",
                     address_.c_str(), s.status().ToString().c_str());
      }
      break;
    }
    // The one connection limit, across all reactors. Each reactor's Server has the same limit
    // and so never refuses first: it serves a subset of these connections.
    if (active_.load() >= options_.connection.connections_max_count) {
      if (refusing_.load() >= tunables::kConnectionsRefusingMaxCount) {
        ++refused_;
        continue;  // the socket closes here
      }
      Dispatch(*std::move(s), /*refuse=*/true);
      continue;
    }
    ++accepted_;
    Dispatch(*std::move(s), /*refuse=*/false);
  }
  shards_[0]->acceptor_done->Set();
}

void TcpServer::Dispatch(TcpListener::AcceptedSocket s, bool refuse) {
  // Shared, so that a failed hand-off leaves the socket here to be served locally. The slot in
  // active_ (or refusing_) is given back when the last copy goes: after ServeSocket, or with a
  // closure that never ran (the target reactor had no fiber stack for it, or stopped).
  auto socket = std::make_shared<Accepted>(this, std::move(s), refuse);
  const size_t target = runtime_->NextReactorIndex();
  if (target != 0 && runtime_->Post(target, [this, target, socket](Reactor&) {
                                     ServeSocket(target, std::move(socket->socket),
                                                 socket->refusal);
                                   }).ok()) {
    return;
  }
  absl::Status spawned = shards_[0]->reactor->Spawn("tcp server connection", [this, socket] {
    ServeSocket(0, std::move(socket->socket), socket->refusal);
  });
  if (!spawned.ok()) ++refused_;  // no fiber for it: the socket closes here
}

void TcpServer::ServeSocket(size_t index, TcpListener::AcceptedSocket socket, bool refuse) {
  Shard& shard = *shards_[index];
  shard.connections->Add();
  absl::StatusOr<std::unique_ptr<Transport>> conn = Handshake(shard, std::move(socket));
  if (conn.ok() && !refuse) shard.server->ServeConn(*std::move(conn)).IgnoreError();
  if (conn.ok() && refuse) {
    const size_t limit = options_.connection.connections_max_count;
    const absl::Status why = ServerBusyError(absl::StrCat(
        "connection refused: ", limit, " connections are served (Options::connections_max_count = ",
        limit, ")"));
    if (shard.server->RefuseConn(*std::move(conn), why)) {
      ++refused_with_error_;
    } else {
      ++refused_;
    }
  }
  shard.connections->Done();
}

absl::StatusOr<std::unique_ptr<Transport>> TcpServer::Handshake(
    Shard& shard, TcpListener::AcceptedSocket socket) {
  if (shard.shutting_down) return absl::UnavailableError("server is shutting down");
  absl::StatusOr<std::unique_ptr<TcpTransport>> t =
      TcpTransport::Adopt(*shard.reactor, std::move(socket.fd), socket.peer);
  if (!t.ok()) return t.status();
  std::unique_ptr<Transport> conn = *std::move(t);
  Transport* raw = conn.get();  // stays valid (owned here, then by the handshake) until erased
  shard.handshaking.insert(raw);
  absl::Status failed;
  if (options_.migrate_header) {
    failed = ReadMigrateHeader(shard.reactor->env(), *conn, options_.migrate_header_timeout);
  }
  if (failed.ok() && options_.accept_handshake) {
    absl::StatusOr<std::unique_ptr<Transport>> wrapped =
        options_.accept_handshake(*shard.reactor, std::move(conn), socket.peer);
    if (wrapped.ok()) conn = *std::move(wrapped);
    failed = wrapped.status();
  }
  shard.handshaking.erase(raw);
  if (!failed.ok()) {
    ++handshake_failures_;
    if (options_.on_handshake_error) options_.on_handshake_error(failed);
    return failed;
  }
  return conn;
}

void TcpServer::Shutdown(Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  DRPC_CHECK(Reactor::ForThisThread() == nullptr) << "TcpServer::Shutdown on a reactor thread";
  if (!shards_.empty() && shards_[0]->acceptor_done != nullptr) {
    // After the acceptor has returned, every hand-off it made is already in an inbox, ahead of
    // the shard shutdowns posted below (inboxes and run queues are FIFO).
    runtime_->Run(0, [this](Reactor&) -> absl::Status {
               listener_->Close();
               shards_[0]->acceptor_done->Wait("tcp server shutdown: joining the acceptor");
               listener_.reset();
               shards_[0]->acceptor_done.reset();
               return absl::OkStatus();
             })
        .IgnoreError();
  }
  ShutdownShards(grace);
}

void TcpServer::ShutdownShards(Duration grace) {
  runtime_internal::Latch all(shards_.size());
  struct CountDownOnExit {
    runtime_internal::Latch* latch;
    explicit CountDownOnExit(runtime_internal::Latch* l) : latch(l) {}
    CountDownOnExit(CountDownOnExit&& o) noexcept : latch(std::exchange(o.latch, nullptr)) {}
    ~CountDownOnExit() {
      if (latch != nullptr) latch->CountDown();
    }
  };
  for (size_t i = 0; i < shards_.size(); ++i) {
    Shard* shard = shards_[i].get();
    if (shard->server == nullptr) {
      all.CountDown();
      continue;
    }
    absl::Status posted = runtime_->PostWaiting(
        i, [shard, grace, done = CountDownOnExit(&all)](Reactor& r) {
          shard->shutting_down = true;
          shard->server->Shutdown(r.Now() + grace);
          for (Transport* t : shard->handshaking) t->Close();
          shard->connections->Wait("tcp server shutdown: joining connections");
          // impl/ objects are destroyed on their own reactor.
          shard->server.reset();
          shard->connections.reset();
        });
    if (!posted.ok()) {
      // The runtime stopped first: the shard's objects belong to a dead reactor; leak them
      // rather than destroy them on the wrong thread.
      std::fprintf(stderr, "drpc TcpServer: runtime stopped before shutdown: %s\n",
                   posted.ToString().c_str());
      (void)shard->server.release();
      (void)shard->connections.release();
    }
  }
  all.Wait();
  // A shard whose shutdown never ran (the reactor stopped with it queued) is leaked as above.
  for (auto& shard : shards_) {
    (void)shard->server.release();
    (void)shard->connections.release();
  }
}

}  // namespace drpc::runtime
