// The race situations the RPC workloads report (SimContext::Reach), as constants next to impl/'s
// (impl/situations.h) in the same namespace, so scenarios list both kinds alike and a misspelt
// one is a compile error.
#ifndef DRPC_SIM_WORKLOAD_SITUATIONS_H_
#define DRPC_SIM_WORKLOAD_SITUATIONS_H_

#include "impl/env.h"

namespace drpc::situations {

// A caller closed its connection while calls were running on it.
inline constexpr Situation kWorkloadClosedABusyConnection{"workload.closed_a_busy_connection"};
// The server shut down while calls were running.
inline constexpr Situation kWorkloadShutdownDuringLoad{"workload.shutdown_during_load"};
// A fault struck at every byte offset of the exchange.
inline constexpr Situation kWorkloadEveryOffsetSwept{"workload.every_offset_swept"};
// After the faults healed, a fresh connection completed a call.
inline constexpr Situation kWorkloadProbeAfterHealSucceeded{"workload.probe_after_heal_succeeded"};
// A handler waited for its call to be cancelled.
inline constexpr Situation kWorkloadHandlerWaitedForCancel{"workload.handler_waited_for_cancel"};
// A handler that never read its requests ended by its context (Ending::kNeverReads).
inline constexpr Situation kWorkloadHandlerNeverRead{"workload.handler_never_read"};
// A caller abandoned a stream mid-call (closed it early).
inline constexpr Situation kWorkloadAbandonedAStream{"workload.abandoned_a_stream"};
// A caller cancelled a call whose stream had already ended (the peer's Error or last reply, or its
// connection's end, came first): the call ended with that outcome, not Canceled.
inline constexpr Situation kWorkloadCancelCameAfterTheEnd{"workload.cancel_came_after_the_end"};
// A caller's cancel reached its call's stream and the call ended Canceled, whatever came after.
inline constexpr Situation kWorkloadCancelWon{"workload.cancel_won"};
// A caller cancelled a call whose context its deadline had already ended: the cancel changed
// nothing, and the call is judged as of the deadline's moment.
inline constexpr Situation kWorkloadCancelFoundTheDeadlinePassed{
    "workload.cancel_found_the_deadline_passed"};
// A call a fault failed ended "closed" with the transport's error of the fault on the client's
// side of the connection (its writes, its reads), or with the server's end's reaction (EOF, reset)
// to a fault on the server's side.
inline constexpr Situation kWorkloadClosedNamedTheFault{"workload.closed_named_the_fault"};
inline constexpr Situation kWorkloadClosedNamedThePeersEnd{"workload.closed_named_the_peers_end"};
// Size limits drawn at the sizes the calls send (WorkloadConfig::draw_size_limits): a call's
// largest message one byte under the receiving end's limit; exactly at it, and the call succeeded;
// one over it (mux ends), and the call ended with the stream-scoped size error.
inline constexpr Situation kWorkloadMessageJustUnderTheLimit{"workload.message_just_under_the_limit"};
inline constexpr Situation kWorkloadMessageAtTheLimitPassed{"workload.message_at_the_limit_passed"};
inline constexpr Situation kWorkloadMessageOverTheLimitFailedItsStream{
    "workload.message_over_the_limit_failed_its_stream"};
// One over an upstream end's packet limit, and that end dropped the connection ("data
// overflow", as Go drpc does), with nothing else to end it.
inline constexpr Situation kWorkloadMessageOverTheLimitClosedItsConnection{
    "workload.message_over_the_limit_closed_its_connection"};
// A call ended with a remote error after its handler had failed, and the error was the
// handler's, code and text (the remote-error rule).
inline constexpr Situation kWorkloadRemoteErrorCarriedTheHandlersError{
    "workload.remote_error_carried_the_handlers_error"};
// A receive stall broke a buffer cycle across the connection (no flow control).
inline constexpr Situation kWorkloadReceiveStallBrokeABufferCycle{
    "workload.receive_stall_broke_a_buffer_cycle"};
// A call failed by flow control — a credit stall or a receive-cap overrun — where the ledger allows
// it: mismatched ends, or a credit-stall timeout shorter than an exchange.
inline constexpr Situation kWorkloadFlowControlFailedACall{"workload.flow_control_failed_a_call"};
// A call was refused over the server's concurrent-stream limit.
inline constexpr Situation kWorkloadRefused{"workload.refused"};
// A call after healing was refused because the server still held the previous call's stream
// (its next Invoke overtook the server's release of it), and was tried again.
inline constexpr Situation kWorkloadProbeRetriedARefusal{"workload.probe_retried_a_refusal"};
// A call after healing failed by the server's receive stall (a stall timeout shorter than the
// scheduler may pass the reading handler over), and was tried again.
inline constexpr Situation kWorkloadProbeRetriedAStall{"workload.probe_retried_a_stall"};
// A network fault (other than a stall) struck a connection.
inline constexpr Situation kWorkloadFaultStruckAConnection{"workload.fault_struck_a_connection"};
// A connection ended because it broke (a fault struck it or its peer went away).
inline constexpr Situation kWorkloadConnectionBroken{"workload.connection_broken"};
// A connection ended by an upstream cancel (hard, or soft finding a write in progress).
inline constexpr Situation kWorkloadUpstreamCancelClosedConnection{
    "workload.upstream_cancel_closed_connection"};

// --- Clients and the pool (sim/drpc/scenarios/client.cc, pool.cc) ------------------------------
// A reconnecting client failed a call at once while it waited to re-dial (backoff).
inline constexpr Situation kClientFailedFastDuringBackoff{"client.failed_fast_during_backoff"};
// A reconnecting client dialled again after its connection broke.
inline constexpr Situation kClientRedialledAfterABreak{"client.redialled_after_a_break"};
// A dial was refused or hung.
inline constexpr Situation kClientDialFailed{"client.dial_failed"};
// The pool refused a connection that reached a different server than its key names.
inline constexpr Situation kPoolRefusedADifferentServer{"pool.refused_a_different_server"};
// A pooled connection ended while a caller held its lease.
inline constexpr Situation kPoolLeaseSawItsConnectionEnd{"pool.lease_saw_its_connection_end"};
// The pool handed out an idle connection again.
inline constexpr Situation kPoolReusedAnIdleConnection{"pool.reused_an_idle_connection"};
// An idle pooled connection expired and was closed.
inline constexpr Situation kPoolIdleConnectionExpired{"pool.idle_connection_expired"};

}  // namespace drpc::situations

#endif  // DRPC_SIM_WORKLOAD_SITUATIONS_H_
