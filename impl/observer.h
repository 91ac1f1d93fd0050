// ConnectionObserver: what a connection reports while it runs, for metrics (impl/app/metrics.h
// adapts it to a MetricsSink). Set Options::observer to receive the events of every connection
// made with those options.
//
//   class Counting final : public ConnectionObserver {
//     void OnRecvQueueBlocked() override { ++blocked_; }
//   };
//
// Calls come from the connection's fibers (its Scheduler, impl/env.h); they must not block. An
// observer shared by connections on several threads (reactors of the production runtime) must
// be thread-safe.
#ifndef DRPC_IMPL_OBSERVER_H_
#define DRPC_IMPL_OBSERVER_H_

namespace drpc {

class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  // The connection's reader found a stream's receive queue full and waits for the application to
  // take a message (streams without flow control; once per wait).
  virtual void OnRecvQueueBlocked() = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_OBSERVER_H_
