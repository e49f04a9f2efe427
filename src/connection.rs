//! The connection state machine: input handling, send commands, the output queue and timers.

use alloc::string::String;
use alloc::vec::Vec;

use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use crate::config::{Config, Delivery};
#[cfg(feature = "deflate")]
use crate::deflate::codec::{Compressor, Decompressor};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, DeflateParams, negotiate};
use crate::entropy::{Entropy, Seed};
use crate::error::{Error, HandshakeError, ProtocolError, SendError, TimeoutKind};
use crate::event::{Chunk, ControlPayload, DataKind, Event, MAX_CONTROL_PAYLOAD, Message, Payload};
use crate::frame::{self, FrameHeader, HeaderRules, MAX_HEADER_LEN, OpCode};
use crate::handshake::{self, Accept, ClientRequest, Request};
use crate::mask::{apply_mask, extend_masked};
use crate::output::{KEEP_CAPACITY, OWNED_SEGMENT_MIN, Output};
use crate::time::Instant;
use crate::utf8::Utf8Validator;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the opening request and masks its frames.
    Client,
    /// Answers the opening request; its frames are unmasked.
    Server,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The opening handshake is in progress.
    Connecting,
    /// Both sides may send data.
    Open,
    /// We sent a close frame and wait for the peer's.
    Closing,
    /// The connection ended: close handshake done, failed, rejected or timed out. Only flushing
    /// [`Connection::transmit`] and closing the transport remain.
    Closed,
}

/// The outcome of one [`Connection::recv`] call.
#[derive(Debug)]
pub struct Recv<'a> {
    /// How many input bytes were used; pass the rest again (with more appended) next time.
    pub consumed: usize,
    /// What happened, if anything. Payloads borrow the caller's input, not the connection.
    pub event: Option<Event<'a>>,
}

/// The internal phase; [`State`] is its public summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    ClientHandshake,
    ServerHandshake,
    AwaitingAccept,
    Open,
    /// Our close is queued; the peer's is awaited.
    CloseSent,
    /// Both close frames have been exchanged.
    CloseDone,
    /// Failed, rejected or timed out; no more input is processed.
    Failed,
    /// The transport ended.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Handshake,
    Keepalive,
    Pong,
    Close,
}
const TIMERS: [Timer; 4] = [
    Timer::Handshake,
    Timer::Keepalive,
    Timer::Pong,
    Timer::Close,
];

/// Receive state between calls: a header accumulator of at most 14 bytes plus a countdown.
#[derive(Debug)]
struct Reader {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    /// The frame whose payload is arriving, if its header is complete.
    frame: Option<FrameRx>,
    /// The data message in progress, if any.
    message: Option<MessageRx>,
    /// A control frame's payload, gathered whole (at most 125 bytes).
    control: ControlPayload,
}

#[derive(Debug, Clone, Copy)]
struct FrameRx {
    header: FrameHeader,
    remaining: u64,
    /// Payload bytes already unmasked, i.e. the mask phase.
    offset: usize,
    /// While a whole frame is awaited ([`Config::whole_frame_limit`]): payload bytes at the
    /// front of the input already unmasked and validated but left unconsumed.
    lent: usize,
}

#[derive(Debug)]
struct MessageRx {
    kind: DataKind,
    frames: u32,
    /// Declared bytes so far, checked against `max_message_size` at each header.
    size: u64,
    utf8: Utf8Validator,
    /// Reassembly buffer ([`Delivery::Messages`] only).
    buffer: Vec<u8>,
    /// Whether a chunk of this message was delivered ([`Delivery::Chunks`] only).
    started: bool,
    /// RSV1 was set on its first frame: the payload is DEFLATE data (permessage-deflate).
    compressed: bool,
}

/// The message we are sending in fragments.
#[derive(Debug, Clone, Copy)]
struct MessageTx {
    kind: DataKind,
    utf8: Utf8Validator,
    /// Its fragments are compressed (permessage-deflate).
    compressed: bool,
}

/// permessage-deflate in force on a connection.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Deflate {
    params: DeflateParams,
    /// Settings for our compressor (level, threshold).
    config: DeflateConfig,
    /// Created on the first compressed send: a receive-only connection never pays for it.
    compressor: Option<Compressor>,
    decompressor: Decompressor,
}

#[cfg(feature = "deflate")]
impl Deflate {
    fn new(role: Role, params: DeflateParams, config: DeflateConfig) -> Deflate {
        let (peer_bits, peer_reset) = match role {
            Role::Client => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
            Role::Server => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
        };
        Deflate {
            params,
            config,
            compressor: None,
            decompressor: Decompressor::new(peer_bits, peer_reset),
        }
    }

    fn compressor(&mut self, role: Role) -> &mut Compressor {
        let (params, level) = (self.params, self.config.level);
        self.compressor.get_or_insert_with(|| {
            let (bits, reset) = match role {
                Role::Client => (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
                Role::Server => (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
            };
            Compressor::new(level, bits, reset)
        })
    }
}

/// Input bytes of a compressed message inflated per [`Event::Chunk`] in [`Delivery::Chunks`]
/// mode. DEFLATE expands at most about 1032:1, so a chunk holds at most about 4 MiB.
#[cfg(feature = "deflate")]
const INFLATE_INPUT_PIECE: usize = 4096;

/// An upper bound on the compressed size of `len` bytes (stored blocks cost 5 bytes per block;
/// the smallest windows use 256-symbol blocks), used to check for room before compressing: once
/// the compressor has seen a message, it must be sent.
#[cfg(feature = "deflate")]
fn deflate_bound(len: usize) -> usize {
    len.saturating_add(len >> 4).saturating_add(64)
}

/// A WebSocket connection: a sans-IO state machine.
///
/// Methods are grouped as in quinn-proto: constructors, getters, `recv`/`recv_eof`/
/// `handle_timeout` inputs, send commands, and `transmit`/`poll_timeout` outputs. See the crate
/// docs for the run loop.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    phase: Phase,
    config: Config,
    entropy: Option<Entropy>,
    rules: HeaderRules,
    reader: Reader,
    sending: Option<MessageTx>,
    output: Output,
    /// The newest ping's pong, held back while [`MAX_QUEUED_PONGS`] pongs wait in the output.
    pending_pong: Option<ControlPayload>,
    /// Pongs queued since the output queue was last empty.
    queued_pongs: u32,
    timers: [Option<Instant>; 4],
    last_received: Instant,
    keepalive_payload: Option<ControlPayload>,
    keepalive_count: u32,
    /// The opening handshake's head, gathered until its terminator arrives.
    head: Vec<u8>,
    client_key: String,
    client_request: Option<ClientRequest>,
    request: Option<Request>,
    subprotocol: Option<String>,
    close_received: Option<CloseFrame>,
    close_sent: Option<CloseFrame>,
    /// Set when a timer or the transport asks for the transport to be closed now.
    transport_close: bool,
    /// Payload bytes the last `recv` waited for in one piece ([`Config::whole_frame_limit`]).
    input_needed: usize,
    /// permessage-deflate, once negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<Deflate>,
}

/// Pongs that may be queued while the output is not drained; beyond it only the newest ping is
/// answered (RFC 6455 section 5.5.3 allows answering only the most recent one).
pub const MAX_QUEUED_PONGS: u32 = 16;

impl Connection {
    // ---- constructors ----

    /// A client that sends `request` (queued in [`transmit`](Connection::transmit) at once).
    ///
    /// `seed` feeds the CSPRNG for the `Sec-WebSocket-Key` and masking keys; use a fresh one per
    /// connection ([`Seed::from_os`] with `std`).
    ///
    /// # Errors
    /// [`SendError::InvalidHandshakeAnswer`] if the request has an invalid host, path,
    /// subprotocol or header (e.g. CR/LF, which could inject headers).
    pub fn client(
        config: Config,
        request: ClientRequest,
        seed: Seed,
        now: Instant,
    ) -> Result<Connection, SendError> {
        let mut conn = Connection::new(Role::Client, config, Some(seed), now);
        let mut nonce = [0u8; 16];
        if let Some(entropy) = conn.entropy.as_mut() {
            entropy.fill(&mut nonce);
        }
        conn.client_key = handshake::new_key(nonce);
        #[cfg(feature = "deflate")]
        let offer = conn.config.deflate.as_ref().map(negotiate::client_offer);
        #[cfg(not(feature = "deflate"))]
        let offer: Option<String> = None;
        let mut head = Vec::new();
        handshake::write_request(&request, &conn.client_key, offer.as_deref(), &mut head)?;
        conn.queue_bytes(&head);
        conn.client_request = Some(request);
        conn.phase = Phase::ClientHandshake;
        conn.arm_handshake_timer(now);
        Ok(conn)
    }

    /// A server awaiting the client's opening request.
    pub fn server(config: Config, now: Instant) -> Connection {
        let mut conn = Connection::new(Role::Server, config, None, now);
        conn.phase = Phase::ServerHandshake;
        conn.arm_handshake_timer(now);
        conn
    }

    /// A connection already open: the upgrade happened elsewhere (hyper or axum, HTTP/2
    /// extended CONNECT). A client needs `seed` for masking keys; a server ignores it.
    pub fn upgraded(role: Role, config: Config, seed: Seed, now: Instant) -> Connection {
        let seed = (role == Role::Client).then_some(seed);
        let mut conn = Connection::new(role, config, seed, now);
        conn.open(now);
        conn
    }

    /// As [`upgraded`](Connection::upgraded), with permessage-deflate already negotiated
    /// elsewhere with `params`. Compression settings (level, threshold) come from
    /// [`Config::deflate`], or the defaults if it is `None`.
    #[cfg(feature = "deflate")]
    pub fn upgraded_with_deflate(
        role: Role,
        config: Config,
        seed: Seed,
        now: Instant,
        params: DeflateParams,
    ) -> Connection {
        let mut conn = Connection::upgraded(role, config, seed, now);
        conn.enable_deflate(params);
        conn
    }

    fn new(role: Role, config: Config, seed: Option<Seed>, now: Instant) -> Connection {
        Connection {
            role,
            phase: Phase::Open,
            config,
            entropy: seed.map(Entropy::new),
            rules: HeaderRules {
                rsv_allowed: 0,
                expect_masked: role == Role::Server,
            },
            reader: Reader {
                header: [0; MAX_HEADER_LEN],
                header_len: 0,
                frame: None,
                message: None,
                control: ControlPayload::EMPTY,
            },
            sending: None,
            output: Output::default(),
            pending_pong: None,
            queued_pongs: 0,
            timers: [None; 4],
            last_received: now,
            keepalive_payload: None,
            keepalive_count: 0,
            head: Vec::new(),
            client_key: String::new(),
            client_request: None,
            request: None,
            subprotocol: None,
            close_received: None,
            close_sent: None,
            transport_close: false,
            input_needed: 0,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// The most heap and inline bytes one connection can hold under `config`, whatever the
    /// peer sends. A counting-allocator test drives the worst cases against it.
    ///
    /// ```text
    /// bound = size_of::<Connection>()
    ///       + handshake:   4 * max_handshake_size + max_headers * (size_of::<httparse::Header>() + 2 * 3 * size_of::<usize>())
    ///       + reassembly:  2 * max_message_size        (Delivery::Messages only)
    ///       + output:      2 * (max_pending_output + automatic replies) + a reused buffer of at most 16 KiB
    ///       + automatic replies: (MAX_QUEUED_PONGS + 2) * (14 + 125)
    ///       + permessage-deflate: 436 KiB when `Config::deflate` is set (see the `deflate` module)
    /// ```
    ///
    /// The handshake term covers the head being gathered (a `Vec` may hold twice what it was
    /// given), httparse's header array, and the parsed request (kept for
    /// [`request`](Connection::request), plus the copy in [`Event::Request`]). The output is
    /// doubled because a growing `Vec` may hold up to twice its contents, and the reassembly
    /// buffer because, while it grows, the old and the new block briefly exist side by side. With the defaults the
    /// bound is dominated by `max_message_size` and `max_pending_output`: lower them to fit
    /// many connections in a small heap. An adapter adds its read buffer: at most 256 KiB, or a
    /// frame being lent whole ([`Config::whole_frame_limit`], which the adapters set to
    /// `max_frame_size`) plus 8 KiB.
    pub fn memory_bound(config: &Config) -> usize {
        // httparse's slot, plus a kept header's span (three offsets) in the request and its copy.
        let header = core::mem::size_of::<httparse::Header<'static>>()
            + 2 * 3 * core::mem::size_of::<usize>();
        let handshake = 4usize
            .saturating_mul(config.max_handshake_size)
            .saturating_add(config.max_headers.saturating_mul(header));
        let reassembly = match config.delivery {
            Delivery::Messages => usize::try_from(config.max_message_size)
                .unwrap_or(usize::MAX)
                .saturating_mul(2),
            Delivery::Chunks => 0,
        };
        let automatic = (MAX_QUEUED_PONGS as usize + 2) * (MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD);
        let output = config
            .max_pending_output
            .saturating_add(automatic)
            .saturating_mul(2);
        let output = output.saturating_add(output.min(KEEP_CAPACITY));
        // permessage-deflate state, measured in the `deflate` module docs: at most 371 KiB for
        // the compressor (15 window bits) and 47 KiB for the decompressor, plus one 16 KiB
        // inflate step past the message limit.
        #[cfg(feature = "deflate")]
        let deflate = if config.deflate.is_some() {
            (372 + 48 + 16) << 10
        } else {
            0
        };
        #[cfg(not(feature = "deflate"))]
        let deflate = 0;
        core::mem::size_of::<Connection>()
            .saturating_add(deflate)
            .saturating_add(handshake)
            .saturating_add(reassembly)
            .saturating_add(output)
    }

    // ---- getters ----

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::ClientHandshake | Phase::ServerHandshake | Phase::AwaitingAccept => {
                State::Connecting
            }
            Phase::Open => State::Open,
            Phase::CloseSent => State::Closing,
            Phase::CloseDone | Phase::Failed | Phase::Ended => State::Closed,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The negotiated subprotocol, once open.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The server's view of the opening request, once it has arrived.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// The peer's close frame, once received (code 1005 if it carried none).
    pub fn close_received(&self) -> Option<CloseFrame> {
        self.close_received
    }

    /// Our close frame, once queued.
    pub fn close_sent(&self) -> Option<CloseFrame> {
        self.close_sent
    }

    /// Heap bytes the connection's buffers hold now: the output queue, a message being
    /// reassembled, and a handshake head being gathered. For memory accounting.
    pub fn buffered_capacity(&self) -> usize {
        let message = self
            .reader
            .message
            .as_ref()
            .map_or(0, |m| m.buffer.capacity());
        self.output.capacity() + message + self.head.capacity()
    }

    /// The permessage-deflate parameters in force, if it was negotiated.
    #[cfg(feature = "deflate")]
    pub fn deflate_params(&self) -> Option<DeflateParams> {
        self.deflate.as_ref().map(|d| d.params)
    }

    /// Whether a fragmented message we are sending is still open.
    pub fn is_sending_fragments(&self) -> bool {
        self.sending.is_some()
    }

    /// How many bytes the input of the next [`recv`](Connection::recv) must hold, counted from
    /// its first unconsumed byte, for that call to make progress; 0 when any new byte does.
    ///
    /// Nonzero only with [`Config::whole_frame_limit`]: the last `recv` stopped at a whole-message
    /// frame whose payload had not all arrived, and left it in the input so it can be lent in
    /// place. A caller whose buffer is smaller grows it (to at most `whole_frame_limit`, which
    /// the frame's header already passed) and reads on. As always, the unconsumed bytes go back
    /// to `recv` as they are (the part that arrived was already unmasked and validated in
    /// place), with new bytes appended.
    pub fn input_needed(&self) -> usize {
        self.input_needed
    }

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

    /// Acts on expired timers. Calling it early or more than once is harmless.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the opening handshake, a keepalive pong or the close handshake
    /// timed out; the transport should then be closed (see
    /// [`wants_transport_close`](Connection::wants_transport_close)).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        for timer in TIMERS {
            let Some(deadline) = self.deadline(timer) else {
                continue;
            };
            if now < deadline {
                continue;
            }
            self.timers[timer as usize] = None;
            match timer {
                Timer::Handshake => return self.time_out(TimeoutKind::Handshake),
                Timer::Pong => return self.time_out(TimeoutKind::Pong),
                Timer::Close => {
                    if self.phase == Phase::CloseDone {
                        // Client: the close handshake is done; the server never closed the
                        // transport, so we do (RFC 6455 7.1.1).
                        self.transport_close = true;
                        return Ok(());
                    }
                    return self.time_out(TimeoutKind::Close);
                }
                Timer::Keepalive => self.send_keepalive(now),
            }
        }
        Ok(())
    }

    // ---- handshake answers (server) ----

    /// Accepts the pending request: queues the 101 response and opens the connection.
    ///
    /// # Errors
    /// [`SendError::NoRequestPending`] if no request awaits an answer;
    /// [`SendError::InvalidHandshakeAnswer`] for a subprotocol the client did not offer or an
    /// invalid header. Nothing is queued on error.
    pub fn accept(&mut self, now: Instant, accept: &Accept) -> Result<(), SendError> {
        if self.phase != Phase::AwaitingAccept {
            return Err(SendError::NoRequestPending);
        }
        let Some(request) = self.request.as_ref() else {
            return Err(SendError::NoRequestPending);
        };
        #[cfg(feature = "deflate")]
        let negotiated = self
            .config
            .deflate
            .as_ref()
            .and_then(|cfg| negotiate::server_negotiate(cfg, request.extensions()));
        #[cfg(feature = "deflate")]
        let extensions = negotiated.as_ref().map(|(_, response)| response.as_str());
        #[cfg(not(feature = "deflate"))]
        let extensions = None;
        let mut head = Vec::with_capacity(192);
        handshake::write_accept(request, accept, extensions, &mut head)?;
        self.output.push_segment(head);
        self.subprotocol = accept.subprotocol.clone();
        self.open(now);
        #[cfg(feature = "deflate")]
        if let Some((params, _)) = negotiated {
            self.enable_deflate(params);
        }
        Ok(())
    }

    /// Rejects the pending request with an HTTP response (e.g. 401 or 403) and ends the
    /// connection once it is written.
    ///
    /// # Errors
    /// [`SendError::NoRequestPending`] if no request awaits an answer;
    /// [`SendError::InvalidHandshakeAnswer`] for a status outside 200-599 or an invalid header.
    pub fn reject(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), SendError> {
        if self.phase != Phase::AwaitingAccept {
            return Err(SendError::NoRequestPending);
        }
        let mut head = Vec::new();
        handshake::write_reject(status, headers, body, &mut head)?;
        self.queue_bytes(&head);
        self.phase = Phase::Failed;
        self.timers = [None; 4];
        Ok(())
    }

    // ---- send commands ----

    /// Queues a text message.
    ///
    /// # Errors
    /// [`SendError::NotOpen`], [`SendError::MessageInProgress`] or [`SendError::OutputFull`];
    /// nothing is queued on error.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_whole(DataKind::Text, text.as_bytes())
    }

    /// Queues a binary message.
    ///
    /// # Errors
    /// As [`send_text`](Connection::send_text).
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
        if kind == DataKind::Text && core::str::from_utf8(&data).is_err() {
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
        self.arm(Timer::Close, self.config.close_timeout.map(|t| now + t));
        self.timers[Timer::Keepalive as usize] = None;
        self.timers[Timer::Pong as usize] = None;
        Ok(())
    }

    // ---- outputs ----

    /// The next bytes to write to the transport (empty when there are none). After writing,
    /// report how many went with [`advance_transmit`](Connection::advance_transmit).
    pub fn transmit(&self) -> &[u8] {
        self.output.front()
    }

    /// All bytes waiting to be written, as slices in order, for a vectored write.
    pub fn transmit_slices(&self) -> impl Iterator<Item = &[u8]> {
        self.output.segments().filter(|s| !s.is_empty())
    }

    /// Marks `n` bytes of the output as written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.output.advance(n);
        if self.output.is_empty() {
            self.queued_pongs = 0;
            // After our close nothing more may be sent (RFC 6455 5.5.1).
            let pong = self
                .pending_pong
                .take()
                .filter(|_| self.phase == Phase::Open);
            if let Some(pong) = pong {
                self.queue_frame_unchecked(OpCode::Pong, true, pong.as_bytes());
                self.queued_pongs = 1;
            }
        }
    }

    /// Bytes waiting to be written: the backpressure signal. Sends fail with
    /// [`SendError::OutputFull`] rather than let it pass [`Config::max_pending_output`].
    pub fn transmit_len(&self) -> usize {
        self.output.len()
    }

    /// The next instant at which [`handle_timeout`](Connection::handle_timeout) has work, or
    /// `None` if no timer is armed (then the caller needs no clock at all).
    pub fn poll_timeout(&self) -> Option<Instant> {
        TIMERS.iter().filter_map(|&t| self.deadline(t)).min()
    }

    /// Whether the caller should now close the transport: the connection has ended and all
    /// output is written. The server closes first (RFC 6455 7.1.1); a client waits for the
    /// server to, up to [`Config::close_timeout`].
    pub fn wants_transport_close(&self) -> bool {
        if !self.output.is_empty() {
            return false;
        }
        match self.phase {
            Phase::Failed | Phase::Ended => true,
            Phase::CloseDone => self.role == Role::Server || self.transport_close,
            _ => self.transport_close,
        }
    }

    // ---- internals: handshake ----

    fn recv_head<'a>(&mut self, now: Instant, input: &'a mut [u8]) -> Result<Recv<'a>, Error> {
        let searched = self.head.len();
        if searched == 0 {
            // The common case: the whole head in one read. Parse it where it is, uncopied.
            let window = input.get(..self.config.max_handshake_size).unwrap_or(input);
            if let Some(end) = handshake::find_head_end(window, 0) {
                let event = self.on_head(now, window.get(..end).unwrap_or(window))?;
                return Ok(Recv {
                    consumed: end,
                    event: Some(event),
                });
            }
        }
        let room = self.config.max_handshake_size.saturating_sub(searched);
        let take = input.len().min(room);
        self.head.extend_from_slice(&input[..take]);
        let Some(end) = handshake::find_head_end(&self.head, searched) else {
            if take < input.len() || self.head.len() >= self.config.max_handshake_size {
                return Err(HandshakeError::HeadersTooLarge.into());
            }
            return Ok(Recv {
                consumed: take,
                event: None,
            });
        };
        // Bytes after the head were only copied, not consumed: they are frames for later.
        let consumed = end - searched;
        let head = core::mem::take(&mut self.head);
        let event = self.on_head(now, head.get(..end).unwrap_or(&head))?;
        Ok(Recv {
            consumed,
            event: Some(event),
        })
    }

    /// A complete opening-handshake head arrived: parse and check it, and move on.
    fn on_head(&mut self, now: Instant, head: &[u8]) -> Result<Event<'static>, Error> {
        let event = match self.phase {
            Phase::ServerHandshake => {
                let request = handshake::parse_request(head, self.config.max_headers)?;
                handshake::validate_request(&request)?;
                self.request = Some(request.clone());
                self.phase = Phase::AwaitingAccept;
                Event::Request(request)
            }
            _ => {
                let response = handshake::parse_response(head, self.config.max_headers)?;
                let offered = self
                    .client_request
                    .as_ref()
                    .map(|r| r.subprotocols())
                    .unwrap_or(&[]);
                #[cfg(feature = "deflate")]
                let offered_deflate = self.config.deflate.is_some();
                #[cfg(not(feature = "deflate"))]
                let offered_deflate = false;
                handshake::validate_response(
                    &response,
                    &self.client_key,
                    offered,
                    offered_deflate,
                )?;
                #[cfg(feature = "deflate")]
                if let Some(cfg) = &self.config.deflate
                    && let Some(params) =
                        negotiate::client_check_response(cfg, response.extensions())?
                {
                    self.enable_deflate(params);
                }
                self.subprotocol = response.subprotocol().map(String::from);
                self.client_request = None;
                self.open(now);
                Event::Connected(response)
            }
        };
        Ok(event)
    }

    fn open(&mut self, now: Instant) {
        self.phase = Phase::Open;
        self.head = Vec::new();
        self.timers[Timer::Handshake as usize] = None;
        self.last_received = now;
        self.arm(
            Timer::Keepalive,
            self.config.keepalive_interval.map(|_| now),
        );
    }

    fn arm_handshake_timer(&mut self, now: Instant) {
        self.arm(
            Timer::Handshake,
            self.config.handshake_timeout.map(|t| now + t),
        );
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
                msg.buffer.extend_from_slice(chunk);
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

    /// Inflates a piece of a compressed message's payload as it arrives; the inflated size is
    /// held to `max_message_size` during inflation, and text is validated after inflation.
    #[cfg(feature = "deflate")]
    fn on_compressed_data(
        &mut self,
        chunk: &[u8],
        message_done: bool,
    ) -> Result<Option<Event<'static>>, ProtocolError> {
        let limit = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
        let (Some(msg), Some(deflate)) = (self.reader.message.as_mut(), self.deflate.as_mut())
        else {
            return Err(ProtocolError::BadCompression);
        };
        let inflater = &mut deflate.decompressor;
        let mut piece = Vec::new();
        let out = match self.config.delivery {
            Delivery::Messages => &mut msg.buffer,
            Delivery::Chunks => &mut piece,
        };
        let start = out.len();
        inflater.decompress(chunk, out, limit)?;
        if message_done {
            inflater.finish_message(out, limit)?;
        }
        if msg.kind == DataKind::Text {
            msg.utf8
                .feed(&out[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if message_done && !msg.utf8.is_complete() {
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        let kind = msg.kind;
        let event = match self.config.delivery {
            Delivery::Messages => {
                if !message_done {
                    return Ok(None);
                }
                Event::Message(Message {
                    kind,
                    payload: Payload::Owned(core::mem::take(&mut msg.buffer)),
                })
            }
            Delivery::Chunks => {
                if piece.is_empty() && !message_done {
                    return Ok(None);
                }
                let first = !msg.started;
                msg.started = true;
                Event::Chunk(Chunk {
                    kind,
                    data: Payload::Owned(piece),
                    first,
                    last: message_done,
                })
            }
        };
        if message_done {
            self.reader.message = None;
        }
        Ok(Some(event))
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
                    self.arm(Timer::Close, self.config.close_timeout.map(|t| now + t));
                }
                Ok(Some(Event::Close(frame)))
            }
        }
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

    /// Whether a whole message of `len` bytes is sent compressed.
    #[cfg(feature = "deflate")]
    fn should_compress(&self, len: usize) -> bool {
        self.deflate
            .as_ref()
            .is_some_and(|d| len >= d.config.compression_threshold)
    }

    /// Compresses and queues a whole message, RSV1 set. Room is checked first, against a bound
    /// on the compressed size: once compressed, the message is in the shared window and must be
    /// sent.
    #[cfg(feature = "deflate")]
    fn send_compressed(&mut self, kind: DataKind, data: &[u8]) -> Result<(), SendError> {
        self.check_room(MAX_HEADER_LEN + deflate_bound(data.len()), false)?;
        let role = self.role;
        let Some(deflate) = self.deflate.as_mut() else {
            return self.queue_frame(data_opcode(kind), true, data, false);
        };
        let mut payload = Vec::new();
        deflate
            .compressor(role)
            .compress_message(data, &mut payload);
        self.queue_frame_rsv(data_opcode(kind), true, frame::RSV1, &payload);
        Ok(())
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
            let role = self.role;
            if let Some(deflate) = self.deflate.as_mut() {
                let mut payload = Vec::new();
                deflate
                    .compressor(role)
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

    /// Turns permessage-deflate on: RSV1 becomes legal on received frames.
    #[cfg(feature = "deflate")]
    fn enable_deflate(&mut self, params: DeflateParams) {
        let config = self.config.deflate.clone().unwrap_or_default();
        self.deflate = Some(Deflate::new(self.role, params, config));
        self.rules.rsv_allowed = frame::RSV1;
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_data_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.queue_frame(opcode, true, payload, false)
    }

    fn check_room(&self, bytes: usize, automatic: bool) -> Result<(), SendError> {
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

    fn queue_frame(
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

    fn queue_frame_unchecked(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.queue_frame_rsv(opcode, fin, 0, payload);
    }

    fn queue_frame_rsv(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
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
            None => buf.extend_from_slice(payload),
        }
        if own {
            self.output.push_segment(segment);
        } else {
            self.output.appended(frame_len);
        }
    }

    fn queue_bytes(&mut self, bytes: &[u8]) {
        self.output.tail().extend_from_slice(bytes);
        self.output.appended(bytes.len());
    }

    fn queue_pong(&mut self, payload: ControlPayload) {
        if self.queued_pongs >= MAX_QUEUED_PONGS {
            self.pending_pong = Some(payload);
            return;
        }
        self.queue_frame_unchecked(OpCode::Pong, true, payload.as_bytes());
        self.queued_pongs += 1;
    }

    fn queue_close(&mut self, frame: CloseFrame) {
        self.queue_frame_unchecked(OpCode::Close, true, frame.encode().as_bytes());
        self.close_sent = Some(frame);
    }

    /// Fails the connection after an error from `recv`: queues the close frame or HTTP reply.
    fn fail(&mut self, error: &Error) {
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

    fn time_out(&mut self, kind: TimeoutKind) -> Result<(), Error> {
        self.phase = Phase::Failed;
        self.transport_close = true;
        self.timers = [None; 4];
        Err(Error::Timeout(kind))
    }

    // ---- internals: timers ----

    fn arm(&mut self, timer: Timer, at: Option<Instant>) {
        self.timers[timer as usize] = at;
    }

    /// A timer's deadline. The keepalive timer stores when it was armed; its deadline moves
    /// with every byte received, without a store per read.
    fn deadline(&self, timer: Timer) -> Option<Instant> {
        let at = self.timers[timer as usize]?;
        match timer {
            Timer::Keepalive => {
                if self.keepalive_payload.is_some() {
                    // A ping is outstanding: the pong timer is in charge.
                    return None;
                }
                let interval = self.config.keepalive_interval?;
                Some(at.max(self.last_received) + interval)
            }
            _ => Some(at),
        }
    }

    fn send_keepalive(&mut self, now: Instant) {
        if self.phase != Phase::Open {
            return;
        }
        self.keepalive_count = self.keepalive_count.wrapping_add(1);
        let payload = ControlPayload::new(&self.keepalive_count.to_be_bytes())
            .unwrap_or(ControlPayload::EMPTY);
        self.queue_frame_unchecked(OpCode::Ping, true, payload.as_bytes());
        self.arm(Timer::Keepalive, Some(now));
        if let Some(timeout) = self.config.pong_timeout {
            self.keepalive_payload = Some(payload);
            self.arm(Timer::Pong, Some(now + timeout));
        }
    }
}

fn data_opcode(kind: DataKind) -> OpCode {
    match kind {
        DataKind::Text => OpCode::Text,
        DataKind::Binary => OpCode::Binary,
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
