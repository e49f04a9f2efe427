//! The send commands and what they share: checks, frame headers, the output queue's framing,
//! automatic replies, and failing the connection.

use alloc::vec::Vec;

use bytes::Bytes;

#[cfg(feature = "deflate")]
use super::deflate::deflate_bound;
use super::{Connection, MAX_QUEUED_PONGS, Phase, Role, Timer};
use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use crate::entropy::Entropy;
use crate::error::{Error, SendError};
use crate::event::{ControlPayload, DataKind, MAX_CONTROL_PAYLOAD};
use crate::frame::{self, FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::handshake;
use crate::mask::{apply_mask, extend_copied, extend_masked};
use crate::output::OWNED_SEGMENT_MIN;
use crate::prepared::PreparedFrame;
use crate::text::Utf8Bytes;
use crate::time::Instant;
use crate::utf8::Utf8Validator;

/// The message we are sending in fragments.
#[derive(Debug, Clone, Copy)]
pub(super) struct MessageTx {
    kind: DataKind,
    utf8: Utf8Validator,
    /// Its fragments are compressed (permessage-deflate).
    compressed: bool,
}

impl Connection {
    // ---- send commands ----

    /// Queues a text message.
    ///
    /// # Errors
    /// [`SendError::NotOpen`], [`SendError::MessageInProgress`] or [`SendError::OutputFull`];
    /// nothing is queued on error.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Instant, Role, Seed, SendError};
    ///
    /// let now = Instant::ZERO;
    /// let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// client.send_text("hello")?;
    /// // A client masks what it sends: 2 header bytes, the 4-byte key, the 5 masked bytes.
    /// assert_eq!(client.transmit_len(), 2 + 4 + 5);
    /// // Before the opening handshake is done there is no one to send to.
    /// let mut server = Connection::server(Config::default(), now);
    /// assert_eq!(server.send_text("hello"), Err(SendError::NotOpen));
    /// assert_eq!(server.transmit_len(), 0);
    /// # Ok::<(), SendError>(())
    /// ```
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_whole(DataKind::Text, text.as_bytes())
    }

    /// Queues a binary message.
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, DataKind, Event, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// server.send_binary(&[0xde, 0xad, 0xbe, 0xef])?;
    /// let mut input = server.transmit().to_vec();
    /// let Some(Event::Message(message)) = client.recv(now, &mut input)?.event else { panic!() };
    /// assert_eq!(message.kind, DataKind::Binary);
    /// assert_eq!(message.payload.as_bytes(), [0xde, 0xad, 0xbe, 0xef]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_whole(DataKind::Binary, data)
    }

    /// Queues a message whose buffer is handed over, so a large payload is queued without a
    /// copy (a client masks it in place).
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text), plus [`SendError::InvalidUtf8`] for text that is
    /// not UTF-8.
    pub fn send_owned(&mut self, kind: DataKind, data: Vec<u8>) -> Result<(), SendError> {
        self.check_data_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if kind == DataKind::Text && crate::utf8::validate(&data).is_err() {
            return Err(SendError::InvalidUtf8);
        }
        #[cfg(feature = "deflate")]
        if self.should_compress(data.len()) {
            return self.send_compressed(kind, &data);
        }
        let opcode = data_opcode(kind);
        if data.len() < OWNED_SEGMENT_MIN {
            return self.queue_frame(opcode, true, &data, false);
        }
        let header = self.frame_header(opcode, true, 0, data.len());
        self.check_room(header.1 + data.len(), false)?;
        let mut data = data;
        if let Some(key) = header.0.mask {
            apply_mask(&mut data, key, 0);
        }
        self.queue_bytes(&header.2[..header.1]);
        self.output.push_segment(data);
        Ok(())
    }

    /// Queues a text message held in shared bytes. Its type proves it is UTF-8, so it is not
    /// validated again; a server queues a payload of 4 KiB or more by reference, so it goes out
    /// as the frame header plus these very bytes (one vectored write), uncopied. A client
    /// masks it into the queue in one pass.
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
    pub fn send_text_shared(&mut self, text: Utf8Bytes) -> Result<(), SendError> {
        self.send_shared(DataKind::Text, text.into_bytes())
    }

    /// Queues a binary message held in shared bytes, as
    /// [`send_text_shared`](Connection::send_text_shared) does.
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
    pub fn send_binary_shared(&mut self, data: Bytes) -> Result<(), SendError> {
        self.send_shared(DataKind::Binary, data)
    }

    /// Queues a message framed once for many connections; see [`PreparedFrame`] for what each
    /// role and compression setting does with it.
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
    pub fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), SendError> {
        self.check_data_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let payload = frame.payload();
        #[cfg(feature = "deflate")]
        if self.should_compress(payload.len()) {
            if let Some(shared) = frame.shared_deflate()
                && self.takes_shared_deflate(shared.bits)
            {
                return self.send_shared_deflate(frame.kind(), &shared.payload);
            }
            return self.send_compressed(frame.kind(), payload);
        }
        if self.role == Role::Client {
            return self.queue_frame(data_opcode(frame.kind()), true, payload, false);
        }
        let wire = frame.wire_bytes();
        if !wire.is_empty() {
            self.check_room(wire.len(), false)?;
            self.queue_bytes(wire);
            return Ok(());
        }
        let header = frame.header();
        self.check_room(header.len() + payload.len(), false)?;
        self.queue_bytes(header);
        self.output.push_shared(payload.clone());
        Ok(())
    }

    fn send_shared(&mut self, kind: DataKind, data: Bytes) -> Result<(), SendError> {
        self.check_data_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        #[cfg(feature = "deflate")]
        if self.should_compress(data.len()) {
            return self.send_compressed(kind, &data);
        }
        let opcode = data_opcode(kind);
        // Small frames are cheaper copied next to each other than written as slices of their
        // own; a client must mask, so it copies anyway.
        if data.len() < OWNED_SEGMENT_MIN || self.role == Role::Client {
            return self.queue_frame(opcode, true, &data, false);
        }
        let (_, n, header) = self.frame_header(opcode, true, 0, data.len());
        self.check_room(n + data.len(), false)?;
        self.queue_bytes(&header[..n]);
        self.output.push_shared(data);
        Ok(())
    }

    /// Queues one fragment of a message sent in pieces (RFC 6455 5.4). The first fragment
    /// starts a message of `kind`; later ones must name the same kind; `last` ends it. Pings,
    /// pongs and close may be sent between fragments.
    ///
    /// # Errors
    /// [`SendError::NotOpen`], [`SendError::FragmentKindMismatch`], [`SendError::InvalidUtf8`]
    /// (text fragments are validated as they are sent) or [`SendError::OutputFull`].
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        self.check_data_send()?;
        let (opcode, mut state) = match self.sending {
            None => (
                data_opcode(kind),
                MessageTx {
                    kind,
                    utf8: Utf8Validator::new(),
                    #[cfg(feature = "deflate")]
                    compressed: self.deflate.is_some(),
                    #[cfg(not(feature = "deflate"))]
                    compressed: false,
                },
            ),
            Some(tx) if tx.kind == kind => (OpCode::Continuation, tx),
            Some(_) => return Err(SendError::FragmentKindMismatch),
        };
        if kind == DataKind::Text {
            state.utf8.feed(data).map_err(|_| SendError::InvalidUtf8)?;
            if last && !state.utf8.is_complete() {
                return Err(SendError::InvalidUtf8);
            }
        }
        if state.compressed {
            self.queue_compressed_fragment(opcode, data, last)?;
        } else {
            self.queue_frame(opcode, last, data, false)?;
        }
        self.sending = if last { None } else { Some(state) };
        Ok(())
    }

    /// Queues a ping with up to 125 bytes of payload.
    ///
    /// # Errors
    /// [`SendError::NotOpen`], [`SendError::ControlTooLong`] or [`SendError::OutputFull`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Event, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// // A timestamp as the payload measures the round trip when the pong brings it back.
    /// server.ping(b"t=1000")?;
    /// # let mut input = server.transmit().to_vec();
    /// # client.recv(now, &mut input)?;
    /// # let mut input = client.transmit().to_vec();
    /// // The client answered by itself; its pong arrives.
    /// let Some(Event::Pong(payload)) = server.recv(now, &mut input)?.event else { panic!() };
    /// assert_eq!(payload.as_bytes(), b"t=1000");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (a heartbeat that expects no answer). Pings are answered
    /// automatically; this is not needed for that.
    ///
    /// # Errors
    /// As [`ping`](Connection::ping).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the closing handshake with `code` and a reason of at most 123 bytes. Calling it
    /// when a close was already sent or the connection has ended does nothing.
    ///
    /// # Errors
    /// [`SendError::InvalidCloseCode`], [`SendError::ControlTooLong`], or
    /// [`SendError::NotOpen`] during the opening handshake.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{CloseCode, Config, Connection, Instant, Role, Seed, SendError, State};
    ///
    /// let now = Instant::ZERO;
    /// let mut conn = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// // 1006 is what a dropped transport reports; no endpoint may send it.
    /// let refused = conn.close(now, CloseCode::ABNORMAL, "");
    /// assert_eq!(refused, Err(SendError::InvalidCloseCode(1006)));
    /// conn.close(now, CloseCode::GOING_AWAY, "shutting down")?;
    /// assert_eq!(conn.state(), State::Closing);
    /// // No data may follow the close frame; the peer's messages are still read.
    /// assert_eq!(conn.send_text("one more"), Err(SendError::NotOpen));
    /// # Ok::<(), SendError>(())
    /// ```
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(SendError::ControlTooLong);
        }
        match self.phase {
            Phase::Open => {}
            Phase::ClientHandshake | Phase::ServerHandshake | Phase::AwaitingAccept => {
                return Err(SendError::NotOpen);
            }
            _ => return Ok(()),
        }
        let frame = CloseFrame::new(code, reason).ok_or(SendError::ControlTooLong)?;
        self.queue_close(frame);
        self.phase = Phase::CloseSent;
        self.arm(
            Timer::Close,
            crate::config::enabled(self.config.close_timeout).map(|t| now + t),
        );
        self.timers[Timer::Keepalive as usize] = None;
        self.timers[Timer::Pong as usize] = None;
        Ok(())
    }

    // ---- internals: sending ----

    fn check_data_send(&self) -> Result<(), SendError> {
        if self.phase == Phase::Open {
            Ok(())
        } else {
            Err(SendError::NotOpen)
        }
    }

    fn send_whole(&mut self, kind: DataKind, data: &[u8]) -> Result<(), SendError> {
        self.check_data_send()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        #[cfg(feature = "deflate")]
        if self.should_compress(data.len()) {
            return self.send_compressed(kind, data);
        }
        self.queue_frame(data_opcode(kind), true, data, false)
    }

    /// Compresses and queues one fragment of a compressed message; RSV1 only on the first.
    fn queue_compressed_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        last: bool,
    ) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        {
            self.check_room(MAX_HEADER_LEN + deflate_bound(data.len()), false)?;
            let now = self.last_received;
            if let Some(deflate) = self.deflate.as_mut() {
                let mut payload = Vec::new();
                deflate
                    .compressor(now)
                    .compress_fragment(data, &mut payload, last);
                let rsv = if opcode == OpCode::Continuation {
                    0
                } else {
                    frame::RSV1
                };
                self.queue_frame_rsv(opcode, last, rsv, &payload);
                return Ok(());
            }
        }
        self.queue_frame(opcode, last, data, false)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_data_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.queue_frame(opcode, true, payload, false)
    }

    pub(super) fn check_room(&self, bytes: usize, automatic: bool) -> Result<(), SendError> {
        if !automatic && self.output.len().saturating_add(bytes) > self.config.max_pending_output {
            return Err(SendError::OutputFull);
        }
        Ok(())
    }

    /// The header for a frame we send, with a fresh masking key for a client.
    fn frame_header(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        len: usize,
    ) -> (FrameHeader, usize, [u8; MAX_HEADER_LEN]) {
        let mask = self
            .entropy
            .as_mut()
            .filter(|_| self.role == Role::Client)
            .map(Entropy::mask_key);
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            len: len as u64,
        };
        let (bytes, n) = frame::encode_header(&header);
        (header, n, bytes)
    }

    pub(super) fn queue_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        automatic: bool,
    ) -> Result<(), SendError> {
        self.check_room(MAX_HEADER_LEN + payload.len(), automatic)?;
        self.queue_frame_unchecked(opcode, fin, payload);
        Ok(())
    }

    pub(super) fn queue_frame_unchecked(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.queue_frame_rsv(opcode, fin, 0, payload);
    }

    pub(super) fn queue_frame_rsv(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        let (header, n, bytes) = self.frame_header(opcode, fin, rsv, payload.len());
        let frame_len = n + payload.len();
        let tail = self.output.tail();
        // A large frame that does not fit the tail's spare room gets a buffer of its own, sized
        // exactly, rather than growing the tail (which would copy everything already in it).
        let own = payload.len() >= OWNED_SEGMENT_MIN && tail.capacity() - tail.len() < frame_len;
        let mut segment = Vec::new();
        let buf = if own {
            segment.reserve_exact(frame_len);
            &mut segment
        } else {
            tail
        };
        buf.extend_from_slice(&bytes[..n]);
        match header.mask {
            // One pass: the payload is masked on its way into the queue.
            Some(key) => extend_masked(buf, payload, key, 0),
            None => extend_copied(buf, payload),
        }
        if own {
            self.output.push_segment(segment);
        } else {
            self.output.appended(frame_len);
        }
    }

    pub(super) fn queue_bytes(&mut self, bytes: &[u8]) {
        self.output.tail().extend_from_slice(bytes);
        self.output.appended(bytes.len());
    }

    pub(super) fn queue_pong(&mut self, payload: ControlPayload) {
        if self.queued_pongs >= MAX_QUEUED_PONGS {
            self.pending_pong = Some(payload);
            return;
        }
        self.queue_frame_unchecked(OpCode::Pong, true, payload.as_bytes());
        self.queued_pongs += 1;
    }

    pub(super) fn queue_close(&mut self, frame: CloseFrame) {
        self.queue_frame_unchecked(OpCode::Close, true, frame.encode().as_bytes());
        self.close_sent = Some(frame);
    }

    /// Fails the connection after an error from `recv`: queues the close frame or HTTP reply.
    pub(super) fn fail(&mut self, error: &Error) {
        match error {
            Error::Protocol(e) if self.close_sent.is_none() => {
                if let Some(frame) = CloseFrame::new(e.close_code(), "") {
                    self.queue_close(frame);
                }
            }
            Error::Handshake(e) if self.role == Role::Server => {
                let mut reply = Vec::new();
                handshake::write_error_response(e, &mut reply);
                self.queue_bytes(&reply);
            }
            Error::AwaitingAccept => return,
            _ => {}
        }
        self.phase = Phase::Failed;
        self.timers = [None; 4];
        self.reader.message = None;
        self.head = Vec::new();
        #[cfg(feature = "deflate")]
        {
            self.deflate = None;
        }
    }
}

pub(super) fn data_opcode(kind: DataKind) -> OpCode {
    match kind {
        DataKind::Text => OpCode::Text,
        DataKind::Binary => OpCode::Binary,
    }
}
