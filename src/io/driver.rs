//! The one adapter driver: the read buffer, the output, the timers and the message conversion,
//! shared by the tokio, futures-io and blocking adapters.
//!
//! Each adapter is a [`Runtime`]: how to read, write, flush and shut down its stream, what time
//! it is, and how to wait for a deadline. The driver is written in poll form once; the async
//! adapters poll it from their futures, and the blocking adapter polls it with a no-op waker,
//! its transport blocking inside the read (with the read timeout set to the next deadline)
//! instead of returning `Pending`.

use core::task::{Context, Poll, ready};
use std::boxed::Box;
use std::io::{self, IoSlice};

use bytes::Bytes;

use super::{MAX_REFUSAL_BODY, Message, ReadBuffer, WsError, WsResult};
use crate::close::CloseCode;
use crate::connection::{Connection, State};
use crate::error::{Error, SendError};
use crate::event::{DataKind, Event, Payload};
use crate::handshake::{Request, Response};
use crate::prepared::PreparedFrame;
use crate::text::Utf8Bytes;
use crate::time::Instant;

/// The default high-water mark: sends wait while at least this many bytes are queued.
pub const DEFAULT_HIGH_WATER_MARK: usize = 128 << 10;

/// Slices per vectored write: the output queue rarely holds more than a few segments.
const MAX_IOSLICES: usize = 16;

/// Reads one poll may discard while draining a closed connection before it yields, so that a
/// peer flooding a closed connection cannot hold the task's thread (tokio's own budget
/// usually yields first).
const DRAIN_READS_PER_POLL: u32 = 32;

pub(crate) mod private {
    use super::*;

    /// What an adapter's runtime provides to the driver. Sealed: see [`Runtime`].
    pub trait Io: Unpin {
        /// The byte stream.
        type Stream;
        /// Whether reads block instead of returning `Pending` (the blocking adapter).
        const BLOCKING: bool;
        fn stream(&self) -> &Self::Stream;
        fn stream_mut(&mut self) -> &mut Self::Stream;
        fn into_stream(self) -> Self::Stream;
        /// Reads into `buf` (with `filled_by`); `Ok(0)` at end of stream. `deadline` is the
        /// core's next one: a blocking read returns `Pending` once it passes.
        fn poll_read(
            &mut self,
            cx: &mut Context<'_>,
            buf: &mut ReadBuffer,
            needed: usize,
            deadline: Option<Instant>,
        ) -> Poll<io::Result<usize>>;
        fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>>;
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            data: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>>;
        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// The time since the connection's epoch.
        fn now(&self) -> Instant;
        /// `Ready` once `at` has passed; otherwise arranges a wake-up for it.
        fn poll_deadline(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()>;
    }
}

use private::Io;

/// The runtime an adapter stream runs on: [`tokio::Tokio`](super::tokio::Tokio) (feature
/// `tokio`), [`futures::Futures`](super::futures::Futures) (feature `futures-io`), or the
/// blocking adapter's. Sealed: the crate's adapters are its only implementations.
pub trait Runtime: Io {}

impl<T: Io> Runtime for T {}

/// What one step of the driver produced.
#[derive(Debug)]
pub(crate) enum Polled {
    /// Server: the opening request, awaiting `accept` or `reject`. Boxed, as is the response,
    /// so that what every message passes through stays the size of a message.
    Request(Box<Request>),
    /// Client: the opening handshake completed.
    Connected(Box<Response>),
    Message(Message),
    /// The connection is over and the transport shut down.
    End,
}

/// Where a data payload the core produced lives, once the event's borrow of the buffer ends.
enum Located {
    /// Lent from the read buffer: `offset..offset + len` of the consumed bytes.
    Lent { offset: usize, len: usize },
    /// Reassembled (or inflated) by the core: moved, not copied.
    Owned(Bytes),
}

/// A connection driven over a runtime's stream. All state lives here, so a dropped future
/// (a `select!` branch) loses nothing.
#[derive(Debug)]
pub(crate) struct Driver<R> {
    pub(crate) io: R,
    /// Boxed so the stream and the futures that hold it stay small (a task's future is sized
    /// for its largest state; the connection is 1.7 KiB).
    pub(crate) conn: Box<Connection>,
    buf: ReadBuffer,
    /// When the last read returned bytes: the time `recv` is given for them, so the clock is
    /// read once per read rather than once per message.
    read_at: Instant,
    /// The deadline the runtime's sleep was last armed at.
    armed: Option<Instant>,
    #[cfg_attr(not(any(feature = "tokio", feature = "futures-io")), allow(dead_code))]
    pub(crate) high_water: usize,
    /// Bytes were written since the stream was last flushed.
    unflushed: bool,
    /// Our write side is shut down: the connection is draining the peer's input.
    write_shut: bool,
    /// When draining gives up (set when it starts).
    drain_until: Option<Instant>,
    /// A failure to report once the close frame it sent is delivered (see `poll_drain`).
    failure: Option<WsError>,
    /// The transport was shut down or failed: the connection is over.
    done: bool,
}

impl<R: Runtime> Driver<R> {
    pub(crate) fn new(io: R, conn: Connection) -> Self {
        Driver {
            io,
            conn: Box::new(conn),
            buf: ReadBuffer::new(),
            read_at: Instant::ZERO,
            armed: None,
            high_water: DEFAULT_HIGH_WATER_MARK,
            unflushed: false,
            write_shut: false,
            drain_until: None,
            failure: None,
            done: false,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.io.now()
    }

    /// Writes queued output until at most `target` bytes remain; `target == 0` also flushes
    /// the stream.
    pub(crate) fn poll_write_to(
        &mut self,
        cx: &mut Context<'_>,
        target: usize,
    ) -> Poll<WsResult<()>> {
        while self.conn.transmit_len() > target {
            // All output in one piece (small frames share a buffer): a plain write does.
            let n = if self.conn.transmit().len() == self.conn.transmit_len() {
                ready!(self.io.poll_write(cx, self.conn.transmit()))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let mut count = 0;
                for (slot, chunk) in slices.iter_mut().zip(self.conn.transmit_slices()) {
                    *slot = IoSlice::new(chunk);
                    count += 1;
                }
                ready!(self.io.poll_write_vectored(cx, &slices[..count]))?
            };
            if n == 0 {
                return Poll::Ready(Err(WsError::Io(io::ErrorKind::WriteZero.into())));
            }
            self.conn.advance_transmit(n);
            self.unflushed = true;
        }
        if target == 0 && self.unflushed {
            ready!(self.io.poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    #[inline]
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        // The common case between messages: nothing queued, nothing to flush.
        if !self.unflushed && self.conn.transmit_len() == 0 {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_to(cx, 0)
    }

    /// Ends the connection so that what the core queued last (a close frame, an HTTP reply)
    /// reaches the peer: writes it out, shuts down the write side, then reads and discards
    /// input until the peer ends its side, the read fails, or `until` passes. Closing with
    /// unread input would make the kernel send a reset, which destroys the close frame before
    /// the peer reads it (RFC 6455 7.1.1: the server closes first, the client waits for it).
    fn poll_drain(&mut self, cx: &mut Context<'_>, until: Instant) -> Poll<()> {
        let mut reads = 0;
        loop {
            if self.done {
                return Poll::Ready(());
            }
            if self.io.poll_deadline(cx, until).is_ready() {
                return self.finished();
            }
            match self.poll_flush(cx) {
                Poll::Ready(Ok(())) => {}
                // The peer is gone: nothing more can reach it.
                Poll::Ready(Err(_)) => return self.finished(),
                Poll::Pending if R::BLOCKING => continue,
                Poll::Pending => return Poll::Pending,
            }
            if !self.write_shut {
                let shut = ready!(self.io.poll_shutdown(cx));
                self.write_shut = true;
                if shut.is_err() {
                    return self.finished();
                }
            }
            let unread = self.buf.filled().len();
            self.buf.consume(unread);
            if reads == DRAIN_READS_PER_POLL && !R::BLOCKING {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            reads += 1;
            match self.io.poll_read(cx, &mut self.buf, 1, Some(until)) {
                // Blocking: the read timed out at `until`; the check above ends it.
                Poll::Pending if R::BLOCKING => {}
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => return self.finished(),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(_)) => return self.finished(),
            }
        }
    }

    /// Marks the connection over and lets go of the read buffer.
    fn finished(&mut self) -> Poll<()> {
        self.done = true;
        let unread = self.buf.filled().len();
        self.buf.consume(unread);
        self.buf.release_if_empty();
        Poll::Ready(())
    }

    /// How the connection ends once the transport is done: the failure that ended it, or the
    /// clean end.
    fn end(&mut self) -> WsResult<Polled> {
        match self.failure.take() {
            Some(e) => Err(e),
            None => Ok(Polled::End),
        }
    }

    /// When draining after a close gives up: the close timeout from the first call, or the
    /// adapters' default when the config turns it off (draining is never unbounded).
    fn drain_deadline(&mut self) -> Instant {
        if let Some(until) = self.drain_until {
            return until;
        }
        let until = self.now() + self.close_timeout();
        self.drain_until = Some(until);
        until
    }

    fn close_timeout(&self) -> core::time::Duration {
        crate::config::enabled(self.conn.config().close_timeout)
            .unwrap_or(super::DEFAULT_CLOSE_TIMEOUT)
    }

    /// A timer failed the connection or the transport ended: try once more to write what the
    /// core queued (a 1011 close for a dead peer), without waiting, then give up on the
    /// transport. That peer has had its time, so its input is not drained.
    fn abort(&mut self, cx: &mut Context<'_>) {
        if self.poll_flush(cx).is_ready() {
            let _ = self.io.poll_shutdown(cx);
        }
        self.done = true;
    }

    /// Arms the runtime's sleep at the core's next deadline; returns when it fired.
    ///
    /// A deadline that moved later keeps the earlier wake-up: the keepalive deadline moves with
    /// every read, and re-arming a runtime timer per message is not free, while waking early
    /// is harmless (`handle_timeout` does nothing before a deadline, and the sleep is then
    /// armed at the new one).
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Option<Instant> {
        let at = self.conn.poll_timeout()?;
        let wake = match self.armed {
            Some(armed) if armed <= at => armed,
            _ => at,
        };
        self.armed = Some(wake);
        if self.io.poll_deadline(cx, wake).is_ready() {
            self.armed = None;
            return Some(wake);
        }
        None
    }

    /// Whether the sleep must be re-armed: the core has a deadline earlier than the armed one
    /// (a send armed or moved a timer), or one while nothing is armed.
    #[cfg_attr(not(any(feature = "tokio", feature = "futures-io")), allow(dead_code))]
    pub(crate) fn timer_stale(&self) -> bool {
        match (self.armed, self.conn.poll_timeout()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(armed), Some(at)) => at < armed,
        }
    }

    /// Drives the connection until the next event the caller sees.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<Polled>> {
        loop {
            if self.done {
                return Poll::Ready(self.end());
            }
            // Write what we can; a peer that is not reading must not stop us from reading.
            let flushed = match self.poll_flush(cx) {
                Poll::Ready(Ok(())) => true,
                Poll::Ready(Err(e)) => {
                    self.done = true;
                    if self.failure.is_some() || self.close_exchanged() {
                        return Poll::Ready(self.end());
                    }
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => false,
            };
            if self.conn.wants_transport_close() {
                let until = self.drain_deadline();
                ready!(self.poll_drain(cx, until));
                return Poll::Ready(self.end());
            }
            // With only writing left, the write or the timer wakes us.
            let only_writing = !flushed && self.conn.state() == State::Closed;
            if !only_writing {
                match self.step() {
                    Ok(Step::Polled(polled)) => {
                        // Start writing a pong or close echo now; whatever is left goes next
                        // time.
                        let _ = self.poll_flush(cx);
                        return Poll::Ready(Ok(polled));
                    }
                    Ok(Step::Progress) => continue,
                    Ok(Step::NeedInput) => {}
                    Err(Error::Closed) => {
                        self.abort(cx);
                        return Poll::Ready(Ok(Polled::End));
                    }
                    Err(e @ Error::Handshake(_)) => {
                        // The caller reads a refusal's body, then finishes (`poll_finish`).
                        let _ = self.poll_flush(cx);
                        return Poll::Ready(Err(self.core_error(e)));
                    }
                    Err(e) => {
                        // The core queued the close frame saying why: deliver it, then report.
                        self.failure = Some(self.core_error(e));
                        continue;
                    }
                }
            }
            // About to wait: the timers first. They are checked once per read rather than once
            // per message: the keepalive and pong deadlines move with input, so they cannot
            // expire while messages are buffered, and a peer that floods still makes us read.
            if let Some(at) = self.poll_timer(cx) {
                // The sleep fired at or after `at`; never report an earlier time.
                let now = self.now().max(at);
                if let Err(e) = self.conn.handle_timeout(now) {
                    self.abort(cx);
                    return Poll::Ready(Err(self.core_error(e)));
                }
                continue;
            }
            if only_writing {
                return Poll::Pending;
            }
            ready!(self.poll_fill(cx))?;
        }
    }

    /// Feeds the buffered input to the core once and turns its event into an owned one. A
    /// payload lent from the read buffer is split off it, not copied; text keeps the core's
    /// proof of UTF-8.
    fn step(&mut self) -> Result<Step, Error> {
        let base = self.buf.filled_addr();
        let mut recv = self.conn.recv(self.read_at, self.buf.filled())?;
        let consumed = recv.consumed;
        // The event is read in place, not moved out: it is sized for the rare inline control
        // payloads, and copying it per message shows in profiles.
        let (kind, located) = match &mut recv.event {
            Some(Event::Message(msg)) => {
                let located = match &mut msg.payload {
                    Payload::Borrowed(lent) => {
                        let offset = (lent.as_ptr() as usize).wrapping_sub(base);
                        if offset
                            .checked_add(lent.len())
                            .is_some_and(|end| end <= consumed)
                        {
                            Located::Lent {
                                offset,
                                len: lent.len(),
                            }
                        } else {
                            // The core lends only from the consumed input; never taken.
                            Located::Owned(Bytes::copy_from_slice(lent))
                        }
                    }
                    Payload::Owned(vec) => Located::Owned(Bytes::from(core::mem::take(vec))),
                };
                (msg.kind, located)
            }
            _ => {
                let step = match recv.event {
                    Some(Event::Ping(p)) => Step::Polled(Polled::Message(Message::Ping(
                        Bytes::copy_from_slice(p.as_bytes()),
                    ))),
                    Some(Event::Pong(p)) => Step::Polled(Polled::Message(Message::Pong(
                        Bytes::copy_from_slice(p.as_bytes()),
                    ))),
                    Some(Event::Close(f)) => Step::Polled(Polled::Message(f.into())),
                    Some(Event::Request(request)) => {
                        Step::Polled(Polled::Request(Box::new(request)))
                    }
                    Some(Event::Connected(response)) => {
                        Step::Polled(Polled::Connected(Box::new(response)))
                    }
                    // Adapters run with whole-message delivery: no chunks.
                    Some(Event::Chunk(_)) | Some(Event::Message(_)) => Step::Progress,
                    None if consumed == 0 => Step::NeedInput,
                    None => Step::Progress,
                };
                self.buf.consume(consumed);
                return Ok(step);
            }
        };
        let payload = match located {
            Located::Lent { offset, len } => self.buf.take_range(consumed, offset, len),
            Located::Owned(bytes) => {
                self.buf.consume(consumed);
                bytes
            }
        };
        let message = match kind {
            DataKind::Binary => Message::Binary(payload),
            // The core validated the text as it arrived.
            DataKind::Text => Message::Text(Utf8Bytes::from_validated(payload)),
        };
        Ok(Step::Polled(Polled::Message(message)))
    }

    /// Polls for the next message; `Ok(None)` once the connection is over.
    pub(crate) fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<Option<Message>>> {
        loop {
            match ready!(self.poll_event(cx))? {
                Polled::Message(message) => return Poll::Ready(Ok(Some(message))),
                Polled::End => return Poll::Ready(Ok(None)),
                // Handshake events do not come after the handshake.
                Polled::Request(_) | Polled::Connected(_) => {}
            }
        }
    }

    /// Sink readiness: room below the high-water mark.
    #[cfg_attr(not(any(feature = "tokio", feature = "futures-io")), allow(dead_code))]
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        let high_water = self.high_water;
        if self.conn.transmit_len() >= high_water {
            ready!(self.poll_write_to(cx, high_water.saturating_sub(1)))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues `message`. The clock is read only for a close, the one send that arms a timer.
    pub(crate) fn start_send(&mut self, message: Message) -> WsResult<()> {
        let conn = &mut self.conn;
        let sent = match message {
            Message::Text(text) => conn.send_text_shared(text),
            Message::Binary(data) => conn.send_binary_shared(data),
            Message::Ping(p) => conn.ping(&p),
            Message::Pong(p) => conn.pong(&p),
            Message::Close(frame) => {
                let now = self.io.now();
                conn.close(now, frame.code(), frame.reason())
            }
        };
        sent.map_err(|e| self.send_error(e))
    }

    /// Queues a frame prepared once for many connections.
    pub(crate) fn start_send_prepared(&mut self, frame: &PreparedFrame) -> WsResult<()> {
        self.conn
            .send_prepared(frame)
            .map_err(|e| self.send_error(e))
    }

    pub(crate) fn close(&mut self, code: CloseCode, reason: &str) -> WsResult<()> {
        let now = self.now();
        self.conn
            .close(now, code, reason)
            .map_err(|e| self.send_error(e))
    }

    /// Whether both close frames have been exchanged: the peer's arrived and ours is queued or
    /// sent. What the transport does after that cannot lose anything.
    fn close_exchanged(&self) -> bool {
        self.conn.close_received().is_some() && self.conn.close_sent().is_some()
    }

    /// A core error as the adapters report it: the clean end carries the peer's close frame.
    pub(crate) fn core_error(&self, e: Error) -> WsError {
        WsError::from_core(e, self.conn.close_received())
    }

    /// A refused send: after a completed close handshake it is the clean end, with the peer's
    /// close frame; otherwise the misuse itself.
    pub(crate) fn send_error(&self, e: SendError) -> WsError {
        let closed = self.conn.close_sent().is_some() && self.conn.close_received().is_some();
        if e == SendError::NotOpen && closed {
            WsError::Closed(self.conn.close_received().map(Box::new))
        } else {
            WsError::Send(e)
        }
    }

    pub(crate) fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        last: bool,
    ) -> WsResult<()> {
        self.conn
            .send_fragment(kind, data, last)
            .map_err(|e| self.send_error(e))
    }

    /// Sink close: a normal close frame (unless one was sent or the connection ended), flushed.
    #[cfg_attr(not(any(feature = "tokio", feature = "futures-io")), allow(dead_code))]
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        if self.conn.state() == State::Open {
            self.close(CloseCode::NORMAL, "")?;
        }
        self.poll_flush(cx)
    }

    /// After a handshake failure: writes the queued reply, shuts the write side down and drains
    /// the peer's input (see `poll_drain`), giving up at `until`.
    pub(crate) fn poll_finish(&mut self, cx: &mut Context<'_>, until: Instant) -> Poll<()> {
        self.poll_drain(cx, until)
    }

    /// Client, after a refusal: reads the response body after the head, until `length` bytes
    /// (its `Content-Length`), the end of the stream, [`MAX_REFUSAL_BODY`] bytes or `until`.
    pub(crate) fn poll_refusal_body(
        &mut self,
        cx: &mut Context<'_>,
        until: Instant,
        length: Option<usize>,
    ) -> Poll<Bytes> {
        let want = length.unwrap_or(MAX_REFUSAL_BODY).min(MAX_REFUSAL_BODY);
        let start = self.conn.head_end_in_input;
        loop {
            let have = self.buf.filled().len().saturating_sub(start);
            if have >= want || self.done || self.io.poll_deadline(cx, until).is_ready() {
                break;
            }
            match self
                .io
                .poll_read(cx, &mut self.buf, want - have, Some(until))
            {
                Poll::Pending if R::BLOCKING => break,
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(n)) if n > 0 => {}
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                // The server closed (the usual end of a refusal) or the read failed.
                Poll::Ready(_) => self.done = true,
            }
        }
        let filled = self.buf.filled();
        let end = filled.len().min(start.saturating_add(want));
        Poll::Ready(Bytes::copy_from_slice(
            filled.get(start..end).unwrap_or(&[]),
        ))
    }

    /// The deadline for [`poll_finish`](Driver::poll_finish): the close timeout from now.
    pub(crate) fn finish_deadline(&self) -> Instant {
        self.now() + self.close_timeout()
    }

    /// Reads more input, or acts on the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        if R::BLOCKING {
            // After a large message, go back to a small buffer before waiting.
            self.buf.shrink_if_empty();
        }
        let needed = self.conn.input_needed();
        let deadline = self.conn.poll_timeout();
        match self.io.poll_read(cx, &mut self.buf, needed, deadline) {
            Poll::Pending => {
                // An idle connection keeps no read buffer.
                self.buf.release_if_empty();
                Poll::Pending
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Poll::Ready(Ok(())),
            // The close frames crossed: a reset now (a server that closed before our echo
            // arrived) loses nothing, so the connection ended cleanly.
            Poll::Ready(Err(_)) if self.close_exchanged() => {
                self.done = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.done = true;
                Poll::Ready(Err(WsError::Io(e)))
            }
            Poll::Ready(Ok(0)) => {
                let now = self.now();
                if let Err(e) = self.conn.recv_eof(now) {
                    self.abort(cx);
                    return Poll::Ready(Err(self.core_error(e)));
                }
                // Clean end: the loop flushes and shuts down.
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(_)) => {
                self.read_at = self.now();
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// A response's `Content-Length`, if it has a valid one.
pub(crate) fn content_length(response: &Response) -> Option<usize> {
    response
        .header_str("Content-Length")
        .and_then(|v| v.trim().parse().ok())
}

/// What one [`Driver::step`] did.
enum Step {
    Polled(Polled),
    /// Input was used but nothing is reported: step again.
    Progress,
    /// The buffered input is used up: read more.
    NeedInput,
}
