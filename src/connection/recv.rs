//! The receive path: `recv` and `recv_eof`, frame headers, data payloads (lent in place or
//! reassembled), UTF-8 checks and control frames.

use alloc::vec::Vec;

#[cfg(feature = "deflate")]
use super::deflate::INFLATE_INPUT_PIECE;
use super::{Connection, Phase, Recv, Role, Timer};
use crate::close::{CloseCode, CloseFrame};
#[cfg(doc)]
use crate::config::Config;
use crate::config::Delivery;
use crate::error::{Error, HandshakeError, ProtocolError};
use crate::event::{Chunk, ControlPayload, DataKind, Event, Message, Payload};
use crate::frame::{self, FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask::apply_mask;
use crate::time::Instant;
use crate::utf8::Utf8Validator;

/// Receive state between calls: a header accumulator of at most 14 bytes plus a countdown.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) header: [u8; MAX_HEADER_LEN],
    pub(super) header_len: usize,
    /// The frame whose payload is arriving, if its header is complete.
    pub(super) frame: Option<FrameRx>,
    /// The data message in progress, if any.
    pub(super) message: Option<MessageRx>,
    /// A control frame's payload, gathered whole (at most 125 bytes).
    pub(super) control: ControlPayload,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct FrameRx {
    header: FrameHeader,
    remaining: u64,
    /// Payload bytes already unmasked, i.e. the mask phase.
    offset: usize,
    /// While a whole frame is awaited ([`Config::whole_frame_limit`]): payload bytes at the
    /// front of the input already unmasked and validated but left unconsumed.
    lent: usize,
}

#[derive(Debug)]
pub(super) struct MessageRx {
    pub(super) kind: DataKind,
    frames: u32,
    /// Declared bytes so far, checked against `max_message_size` at each header.
    size: u64,
    pub(super) utf8: Utf8Validator,
    /// Reassembly buffer ([`Delivery::Messages`] only).
    pub(super) buffer: Vec<u8>,
    /// Whether a chunk of this message was delivered ([`Delivery::Chunks`] only).
    pub(super) started: bool,
    /// RSV1 was set on its first frame: the payload is DEFLATE data (permessage-deflate).
    pub(super) compressed: bool,
}

impl Connection {
    // ---- inputs ----

    /// Feeds bytes received from the transport.
    ///
    /// Returns how many bytes were used and at most one event. Call it again with the unused
    /// bytes until `consumed` is 0 and no event comes, then read more. Data payloads are
    /// unmasked in place in `input` and lent from it, so the caller may send while holding them.
    /// Any split of the byte stream into calls gives the same events.
    ///
    /// # Errors
    /// - [`Error::Protocol`]: the peer broke the protocol; the close frame is queued.
    /// - [`Error::Handshake`]: the opening handshake failed; a server has queued its HTTP reply.
    /// - [`Error::AwaitingAccept`]: a server must `accept` or `reject` the request first.
    /// - [`Error::Closed`]: the connection already failed or ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Event, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// # let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// # client.send_text("hello")?;
    /// # let wire = client.transmit().to_vec();
    /// // A read may end anywhere in a frame: what arrived is used, and no event comes yet.
    /// let mut first = wire[..4].to_vec();
    /// let recv = server.recv(now, &mut first)?;
    /// assert_eq!((recv.consumed, recv.event.is_none()), (4, true));
    /// let mut rest = wire[4..].to_vec();
    /// let recv = server.recv(now, &mut rest)?;
    /// let Some(Event::Message(message)) = recv.event else { panic!("no message") };
    /// assert_eq!(message.as_text(), Some("hello"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv<'a>(&mut self, now: Instant, input: &'a mut [u8]) -> Result<Recv<'a>, Error> {
        match self.phase {
            Phase::Failed | Phase::Ended => return Err(Error::Closed),
            // RFC 6455 1.4: after the closing handshake nothing more is read.
            Phase::CloseDone => {
                return Ok(Recv {
                    consumed: input.len(),
                    event: None,
                });
            }
            Phase::AwaitingAccept => return Err(Error::AwaitingAccept),
            _ => {}
        }
        self.input_needed = 0;
        if !input.is_empty() {
            self.last_received = now;
        }
        let result = match self.phase {
            Phase::ClientHandshake | Phase::ServerHandshake => self.recv_head(now, input),
            _ => self.recv_frames(now, input),
        };
        if let Err(e) = &result {
            self.fail(e);
        }
        result
    }

    /// Reports that the transport will deliver no more bytes (EOF).
    ///
    /// # Errors
    /// - [`Error::AbnormalClosure`] if the close handshake had not completed (close code 1006).
    /// - [`Error::Handshake`] with [`HandshakeError::Eof`] during the opening handshake.
    pub fn recv_eof(&mut self, _now: Instant) -> Result<(), Error> {
        let phase = core::mem::replace(&mut self.phase, Phase::Ended);
        self.transport_close = true;
        self.timers = [None; 4];
        match phase {
            Phase::CloseDone | Phase::Failed | Phase::Ended => Ok(()),
            Phase::ClientHandshake | Phase::ServerHandshake | Phase::AwaitingAccept => {
                Err(Error::Handshake(HandshakeError::Eof))
            }
            Phase::Open | Phase::CloseSent => Err(Error::AbnormalClosure),
        }
    }

    // ---- internals: frames ----

    fn recv_frames<'a>(&mut self, now: Instant, input: &'a mut [u8]) -> Result<Recv<'a>, Error> {
        let total = input.len();
        // `rest` is moved forward, never re-borrowed, so pieces of it can be lent for 'a.
        let mut rest = input;
        loop {
            let consumed = total - rest.len();
            let Some(frame) = self.reader.frame else {
                if rest.is_empty() {
                    return Ok(Recv {
                        consumed,
                        event: None,
                    });
                }
                let used = self.read_header(rest)?;
                rest = &mut core::mem::take(&mut rest)[used..];
                continue;
            };
            let n = usize::try_from(frame.remaining).map_or(rest.len(), |r| r.min(rest.len()));
            // Bound what one chunk of a compressed message can inflate to.
            #[cfg(feature = "deflate")]
            let n = if self.config.delivery == Delivery::Chunks
                && !frame.header.opcode.is_control()
                && self.reader.message.as_ref().is_some_and(|m| m.compressed)
            {
                n.min(INFLATE_INPUT_PIECE)
            } else {
                n
            };
            let (chunk, tail) = core::mem::take(&mut rest).split_at_mut(n);
            // Bytes a previous call unmasked and validated but left in the input.
            let lent = frame.lent.min(n);
            if let Some(key) = frame.header.mask {
                apply_mask(&mut chunk[lent..], key, frame.offset + lent);
            }
            if (n as u64) < frame.remaining && frame.offset == 0 && self.lends_whole(frame) {
                // Part of a whole-message frame: leave it in the input, to be lent in place
                // once complete, but check its text now so bad UTF-8 still fails fast.
                self.check_text(&chunk[lent..], false)?;
                self.reader.frame = Some(FrameRx { lent: n, ..frame });
                self.input_needed = usize::try_from(frame.remaining).unwrap_or(usize::MAX);
                return Ok(Recv {
                    consumed,
                    event: None,
                });
            }
            rest = tail;
            let consumed = consumed + n;
            let remaining = frame.remaining - n as u64;
            let frame_done = remaining == 0;
            self.reader.frame = if frame_done {
                None
            } else {
                Some(FrameRx {
                    remaining,
                    offset: frame.offset + n,
                    lent: 0,
                    ..frame
                })
            };
            if frame.header.opcode.is_control() {
                self.reader.control.extend(chunk);
                if !frame_done {
                    return Ok(Recv {
                        consumed,
                        event: None,
                    });
                }
                if let Some(event) = self.on_control(now, frame.header.opcode)? {
                    return Ok(Recv {
                        consumed,
                        event: Some(event),
                    });
                }
                continue;
            }
            let whole_frame = frame.offset == 0 && frame_done;
            let message_done = frame.header.fin && frame_done;
            if let Some(event) = self.on_data(chunk, lent, message_done, whole_frame)? {
                return Ok(Recv {
                    consumed,
                    event: Some(event),
                });
            }
            if rest.is_empty() && !frame_done {
                return Ok(Recv {
                    consumed,
                    event: None,
                });
            }
        }
    }

    /// Whether `frame` (whose payload has not started) is a whole message to be lent in place
    /// once all of it is in the input ([`Config::whole_frame_limit`]).
    fn lends_whole(&self, frame: FrameRx) -> bool {
        let header = frame.header;
        self.config.delivery == Delivery::Messages
            && header.fin
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && header.rsv & frame::RSV1 == 0
            && header.len <= self.config.whole_frame_limit
    }

    /// Consumes header bytes; sets `reader.frame` once the header is complete.
    fn read_header(&mut self, input: &[u8]) -> Result<usize, ProtocolError> {
        let reader = &mut self.reader;
        let (header, used) = if reader.header_len == 0 {
            match frame::decode_header(input, self.rules)? {
                Some(done) => done,
                None => {
                    // Incomplete, so shorter than a full header.
                    let n = input.len().min(MAX_HEADER_LEN);
                    reader.header[..n].copy_from_slice(&input[..n]);
                    reader.header_len = n;
                    return Ok(n);
                }
            }
        } else {
            let had = reader.header_len;
            let take = input.len().min(MAX_HEADER_LEN - had);
            reader.header[had..had + take].copy_from_slice(&input[..take]);
            match frame::decode_header(&reader.header[..had + take], self.rules)? {
                Some((header, len)) => {
                    reader.header_len = 0;
                    (header, len - had)
                }
                None => {
                    reader.header_len = had + take;
                    return Ok(take);
                }
            }
        };
        self.on_header(header)?;
        Ok(used)
    }

    /// Frame-level checks that need connection state, then sets up the payload countdown.
    fn on_header(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        let config = &self.config;
        if header.len > config.max_frame_size {
            return Err(ProtocolError::FrameTooLarge);
        }
        // RSV1 (allowed only once permessage-deflate is negotiated) marks a compressed message
        // on its first frame; on a continuation or control frame it is an error (RFC 7692 6.1).
        let compressed = header.rsv & frame::RSV1 != 0;
        if compressed && !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            return Err(ProtocolError::ReservedBitsSet(frame::RSV1));
        }
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.reader.message.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                if header.len > message_input_limit(config.max_message_size, compressed) {
                    return Err(ProtocolError::MessageTooLarge);
                }
                let kind = if header.opcode == OpCode::Text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                self.reader.message = Some(MessageRx {
                    kind,
                    frames: 1,
                    size: header.len,
                    utf8: Utf8Validator::new(),
                    buffer: Vec::new(),
                    started: false,
                    compressed,
                });
            }
            OpCode::Continuation => {
                let msg = self
                    .reader
                    .message
                    .as_mut()
                    .ok_or(ProtocolError::UnexpectedContinuation)?;
                msg.frames = msg.frames.saturating_add(1);
                if msg.frames > config.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                msg.size = msg.size.saturating_add(header.len);
                if msg.size > message_input_limit(config.max_message_size, msg.compressed) {
                    return Err(ProtocolError::MessageTooLarge);
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {
                self.reader.control = ControlPayload::EMPTY
            }
        }
        self.reader.frame = Some(FrameRx {
            header,
            remaining: header.len,
            offset: 0,
            lent: 0,
        });
        Ok(())
    }

    /// Handles a piece of data payload (already unmasked); returns an event if one is due.
    /// `validated` bytes at its front were already checked (a whole frame that was awaited).
    fn on_data<'a>(
        &mut self,
        chunk: &'a mut [u8],
        validated: usize,
        message_done: bool,
        whole_frame: bool,
    ) -> Result<Option<Event<'a>>, ProtocolError> {
        #[cfg(feature = "deflate")]
        if self.reader.message.as_ref().is_some_and(|m| m.compressed) {
            return self.on_compressed_data(chunk, message_done);
        }
        self.check_text(chunk.get(validated..).unwrap_or_default(), message_done)?;
        let Some(msg) = self.reader.message.as_mut() else {
            return Ok(None);
        };
        let kind = msg.kind;
        let chunk: &'a [u8] = chunk;
        match self.config.delivery {
            Delivery::Chunks => {
                if chunk.is_empty() && !message_done {
                    return Ok(None);
                }
                let first = !msg.started;
                msg.started = true;
                if message_done {
                    self.reader.message = None;
                }
                Ok(Some(Event::Chunk(Chunk {
                    kind,
                    data: Payload::Borrowed(chunk),
                    first,
                    last: message_done,
                })))
            }
            Delivery::Messages => {
                if message_done && whole_frame && msg.buffer.is_empty() {
                    self.reader.message = None;
                    return Ok(Some(Event::Message(Message {
                        kind,
                        payload: Payload::Borrowed(chunk),
                    })));
                }
                reserve_bounded(&mut msg.buffer, chunk.len(), self.config.max_message_size);
                crate::mask::extend_copied(&mut msg.buffer, chunk);
                if !message_done {
                    return Ok(None);
                }
                let payload = core::mem::take(&mut msg.buffer);
                self.reader.message = None;
                Ok(Some(Event::Message(Message {
                    kind,
                    payload: Payload::Owned(payload),
                })))
            }
        }
    }

    /// Validates the next piece of an uncompressed text message as UTF-8; at its end, checks
    /// that no character was left incomplete.
    fn check_text(&mut self, piece: &[u8], message_done: bool) -> Result<(), ProtocolError> {
        if let Some(msg) = self.reader.message.as_mut()
            && msg.kind == DataKind::Text
        {
            msg.utf8
                .feed(piece)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if message_done && !msg.utf8.is_complete() {
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        Ok(())
    }

    fn on_control(
        &mut self,
        now: Instant,
        opcode: OpCode,
    ) -> Result<Option<Event<'static>>, ProtocolError> {
        let payload = self.reader.control;
        match opcode {
            OpCode::Ping => {
                // After our close, nothing more is sent (RFC 6455 5.5.1).
                if self.phase == Phase::Open {
                    self.queue_pong(payload);
                }
                Ok(Some(Event::Ping(payload)))
            }
            OpCode::Pong => {
                if self.keepalive_payload == Some(payload) {
                    self.keepalive_payload = None;
                    self.timers[Timer::Pong as usize] = None;
                }
                Ok(Some(Event::Pong(payload)))
            }
            _ => {
                let frame = CloseFrame::parse(payload.as_bytes())?;
                self.close_received = Some(frame);
                if self.phase == Phase::Open {
                    // Echo the code (RFC 6455 5.5.1); a close without a code is echoed empty.
                    let echo = if frame.code() == CloseCode::NO_STATUS_RECEIVED {
                        CloseFrame::no_status()
                    } else {
                        CloseFrame::new(frame.code(), "").unwrap_or(CloseFrame::no_status())
                    };
                    self.queue_close(echo);
                }
                self.phase = Phase::CloseDone;
                self.reader.message = None;
                self.sending = None;
                #[cfg(feature = "deflate")]
                {
                    self.deflate = None;
                }
                self.pending_pong = None;
                self.timers = [None; 4];
                if self.role == Role::Client {
                    // Wait for the server to close the transport, but not forever.
                    self.arm(
                        Timer::Close,
                        crate::config::enabled(self.config.close_timeout).map(|t| now + t),
                    );
                }
                Ok(Some(Event::Close(frame)))
            }
        }
    }
}

/// The most payload bytes a message may declare: `max_message_size`, plus, for a compressed
/// message (whose limit applies to the inflated size), room for DEFLATE's small expansion of
/// incompressible data. Bounds the input an endless compressed stream could feed.
fn message_input_limit(max_message_size: u64, compressed: bool) -> u64 {
    if compressed {
        max_message_size
            .saturating_add(max_message_size >> 4)
            .saturating_add(64)
    } else {
        max_message_size
    }
}

/// Grows a reassembly buffer for `extra` more bytes without overshooting the message limit,
/// so the buffer's capacity never exceeds `max(limit, bytes received)`.
fn reserve_bounded(buffer: &mut Vec<u8>, extra: usize, limit: u64) {
    let needed = buffer.len().saturating_add(extra);
    if needed <= buffer.capacity() {
        return;
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let target = buffer.capacity().saturating_mul(2).min(limit).max(needed);
    buffer.reserve_exact(target - buffer.len());
}
