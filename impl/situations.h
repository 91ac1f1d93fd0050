// Every race situation impl/ reports with Env::chaos().Reach, as a constant: simulator scenarios
// list the situations a sweep must reach (sim/scenario.h) by these names, so a misspelt one is a
// compile error rather than a sweep that is blind without knowing it.
//
//   env_->chaos().Reach(situations::kStreamCancelDuringAnOperation);
//   ScenarioSpec{..., .situations = {situations::kStreamCancelDuringAnOperation}};
//
// A situation is an observation, never a decision: reaching one changes nothing in a run.
#ifndef DRPC_IMPL_SITUATIONS_H_
#define DRPC_IMPL_SITUATIONS_H_

#include "impl/env.h"

namespace drpc::situations {

// --- Stream (impl/stream.cc) -----------------------------------------------------------------
// A stream was cancelled while an application operation was in progress on it.
inline constexpr Situation kStreamCancelDuringAnOperation{"stream.cancel_during_an_operation"};
// The connection ended while received messages still waited in a stream's queue.
inline constexpr Situation kStreamConnectionEndedWithMessagesQueued{
    "stream.connection_ended_with_messages_queued"};
// A packet arrived for a stream that had already ended (dropped).
inline constexpr Situation kStreamPacketAfterTheStreamEnded{"stream.packet_after_the_stream_ended"};
// The peer's Error arrived while messages still waited to be read.
inline constexpr Situation kStreamRemoteErrorBehindQueuedMessages{
    "stream.remote_error_behind_queued_messages"};
// The peer's Cancel arrived after its CloseSend.
inline constexpr Situation kStreamCancelArrivedAfterThePeersCloseSend{
    "stream.cancel_arrived_after_the_peers_close_send"};
// The peer's Close arrived while messages still waited to be read.
inline constexpr Situation kStreamRemoteCloseBehindQueuedMessages{
    "stream.remote_close_behind_queued_messages"};
// The connection's reader waited for room in a full receive queue.
inline constexpr Situation kStreamReaderWaitedForQueueSpace{"stream.reader_waited_for_queue_space"};
// A receive queue stayed full for recv_stall_timeout: the stream failed.
inline constexpr Situation kStreamReceiveStallFailedTheStream{
    "stream.receive_stall_failed_the_stream"};
// A flow-controlled stream's queue would have gone over its cap (the peer ignored flow control,
// or the two ends' windows differ): the stream failed.
inline constexpr Situation kStreamFlowQueueCapFailedTheStream{
    "stream.flow_queue_cap_failed_the_stream"};
// A received message of a compressed stream did not decompress: that Recv failed.
inline constexpr Situation kStreamMessageDidNotDecompress{"stream.message_did_not_decompress"};

// --- Conn (impl/conn.cc) ---------------------------------------------------------------------
// A unary call's request met the end of its stream (EOF): Recv tells how it ended.
inline constexpr Situation kConnUnarySendMetTheEndOfItsStream{
    "conn.unary_send_met_the_end_of_its_stream"};

// --- Manager (impl/manager.cc) ----------------------------------------------------------------
// The connection's reader stopped reading: the connection held its buffer budget.
inline constexpr Situation kManagerReaderStoppedAtTheBufferBudget{
    "manager.reader_stopped_at_the_buffer_budget"};
// Nothing freed room in time: the stream holding the most bytes was failed.
inline constexpr Situation kManagerShedAStreamAtTheBufferBudget{
    "manager.shed_a_stream_at_the_buffer_budget"};
// The first frame, or a started frame, did not complete in time: the connection was closed.
inline constexpr Situation kManagerReadTimedOut{"manager.read_timed_out"};
// The client half-closed (read EOF) and the server went on answering the calls it had.
inline constexpr Situation kManagerHalfClosedWithCallsInFlight{
    "manager.half_closed_with_calls_in_flight"};
// An idle connection that had freed much memory (large messages, trimmed buffers) asked the Env
// to return the allocator's cache to the system.
inline constexpr Situation kManagerReturnedMemoryWhenIdle{"manager.returned_memory_when_idle"};

// --- Upstream mode (impl/upstream_manager.cc) ------------------------------------------------
// A new client stream waited for the previous stream's Cancel to be written.
inline constexpr Situation kUpstreamNextStreamWaitedForACancelToBeWritten{
    "upstream.next_stream_waited_for_a_cancel_to_be_written"};
// A stream cancelled while its Invoke was still corked sent nothing.
inline constexpr Situation kUpstreamCancelOfACorkedStreamSentNothing{
    "upstream.cancel_of_a_corked_stream_sent_nothing"};
// A send or close of a stream reached the write lock after a cancel had dropped the stream's
// corked Invoke (the cancel landed while the sender was on its way to the lock): nothing sent.
inline constexpr Situation kUpstreamSendAfterItsCorkedInvokeWasDropped{
    "upstream.send_after_its_corked_invoke_was_dropped"};
// A send or CloseSend of a stream reached the write lock after the stream was cancelled (and its
// Cancel written or the connection closed): nothing sent.
inline constexpr Situation kUpstreamSendAfterItsStreamWasCancelled{
    "upstream.send_after_its_stream_was_cancelled"};
// A send or CloseSend of a stream reached the write lock after the reader failed the stream (a
// receive queue nobody read) and handed its Error or Cancel to a writing fiber: nothing sent.
inline constexpr Situation kUpstreamSendAfterItsStreamFailed{"upstream.send_after_its_stream_failed"};
// A soft cancel found a write in progress and closed the connection instead.
inline constexpr Situation kUpstreamSoftCancelFoundAWriteInProgress{
    "upstream.soft_cancel_found_a_write_in_progress"};
// A hard cancel closed the connection.
inline constexpr Situation kUpstreamHardCancelClosedTheConnection{
    "upstream.hard_cancel_closed_the_connection"};
// A new Invoke cancelled the server's current stream.
inline constexpr Situation kUpstreamNewInvokeCancelledTheCurrentStream{
    "upstream.new_invoke_cancelled_the_current_stream"};

// --- Mux mode (impl/mux_manager.cc, mux_flow.cc, mux_writer.cc) ------------------------------
// A stream was invoked while another stream waited for send credit.
inline constexpr Situation kMuxInvokeWhileAnotherWindowIsExhausted{
    "mux.invoke_while_another_window_is_exhausted"};
// A message's later frame took the send credit below zero (an overdraft, docs/protocol.md §17.2).
inline constexpr Situation kMuxMessageOverdrewTheCredit{"mux.message_overdrew_the_credit"};
// A WindowUpdate arrived while the stream's credit was overdrawn: it repaid the deficit first.
inline constexpr Situation kMuxGrantRepaidAnOverdraft{"mux.grant_repaid_an_overdraft"};
// A WindowUpdate arrived while a message of the stream was partly sent.
inline constexpr Situation kMuxGrantArrivedBetweenFramesOfAMessage{
    "mux.grant_arrived_between_frames_of_a_message"};
// A stream ended (a Cancel, an Error, a Close) while its credit was overdrawn.
inline constexpr Situation kMuxStreamEndedWithItsCreditOverdrawn{
    "mux.stream_ended_with_its_credit_overdrawn"};
// A sender waited credit_stall_timeout for credit: its stream failed.
inline constexpr Situation kMuxCreditStallFailedTheStream{"mux.credit_stall_failed_the_stream"};
// A WindowUpdate was dropped: malformed (docs/protocol.md §11.7), or flow control is off here.
inline constexpr Situation kMuxWindowUpdateDropped{"mux.window_update_dropped"};
// The receiver sent a WindowUpdate (consumed bytes reached the grant threshold).
inline constexpr Situation kMuxGrantSent{"mux.grant_sent"};
// A partly received message was abandoned by a higher message ID: its bytes were granted back.
inline constexpr Situation kMuxDiscardedPartialMessageGranted{
    "mux.discarded_partial_message_granted"};
// A stream ended while its metadata and Invoke were still queued: nothing was sent.
inline constexpr Situation kMuxStreamEndedBeforeItsInvokeWasWritten{
    "mux.stream_ended_before_its_invoke_was_written"};
// A terminal packet released the sender of a message whose last frame was being written.
inline constexpr Situation kMuxTerminalReleasedASenderOfAWriteInProgress{
    "mux.terminal_released_a_sender_of_a_write_in_progress"};
// The peer ended a stream while we still had packets queued for it.
inline constexpr Situation kMuxPeerEndedAStreamWithWritesQueued{
    "mux.peer_ended_a_stream_with_writes_queued"};
// A WindowUpdate arrived for a stream we no longer (or never) had.
inline constexpr Situation kMuxWindowUpdateForAnUnknownStream{
    "mux.window_update_for_an_unknown_stream"};
// A frame arrived for a stream that had already ended.
inline constexpr Situation kMuxFrameForAnEndedStream{"mux.frame_for_an_ended_stream"};
// A Cancel arrived between a stream's metadata and its Invoke.
inline constexpr Situation kMuxCancelBetweenMetadataAndInvoke{
    "mux.cancel_between_metadata_and_invoke"};
// More streams waited for their Invoke than pending_invokes_max_count: one was refused.
inline constexpr Situation kMuxInvokeRefusedOverPendingInvokes{
    "mux.invoke_refused_over_pending_invokes"};
// An Invoke asked for a compression the server does not know: refused.
inline constexpr Situation kMuxInvokeRefusedForItsCompression{
    "mux.invoke_refused_for_its_compression"};
// A peer's Invoke reused the ID of a stream that ended here with frames still to write: the
// connection failed with a protocol error (to the peer that stream is still open).
inline constexpr Situation kMuxInvokeReusedAnIdStillBeingWritten{
    "mux.invoke_reused_an_id_still_being_written"};
// A frame longer than the message limit arrived: its stream failed, its body was skipped.
inline constexpr Situation kMuxOversizeFrameFailedItsStream{"mux.oversize_frame_failed_its_stream"};
// The reader waited for room in the writer's control queue (refusals the peer does not read).
inline constexpr Situation kMuxReaderWaitedForTheControlQueue{
    "mux.reader_waited_for_the_control_queue"};
// A Cancel arrived for a stream the server never had.
inline constexpr Situation kMuxCancelForAStreamTheServerDoesNotHave{
    "mux.cancel_for_a_stream_the_server_does_not_have"};
// An Invoke was refused because the server was shutting down.
inline constexpr Situation kMuxInvokeRefusedWhileShuttingDown{
    "mux.invoke_refused_while_shutting_down"};
// An Invoke was refused over concurrent_streams_max_count.
inline constexpr Situation kMuxInvokeRefusedOverMaxStreams{"mux.invoke_refused_over_max_streams"};

// --- Server (impl/server.cc) -----------------------------------------------------------------
// A call was refused because a server-wide budget (calls, fiber stacks) was spent.
inline constexpr Situation kServerCallRefusedOverABudget{"server.call_refused_over_a_budget"};
// A connection over connections_max_count was answered with an Error before it was closed.
inline constexpr Situation kServerConnectionRefusedWithAnError{
    "server.connection_refused_with_an_error"};

}  // namespace drpc::situations

#endif  // DRPC_IMPL_SITUATIONS_H_
