//! The connection state machine: input handling, send commands, the output queue and timers.
//!
//! [`Connection`] is one struct; its methods are spread over one file per duty, each an
//! `impl Connection` block:
//!
//! - `mod.rs` (this file): [`Role`], [`State`], [`Recv`], the internal phase and timers, the
//!   struct itself, the constructors, the getters and the outputs (`transmit`,
//!   `advance_transmit`, `poll_timeout`, `wants_transport_close`).
//! - `recv.rs`: the receive path: `recv`, `recv_eof`, frame headers and payloads, reassembly,
//!   UTF-8 checks and control frames.
//! - `timers.rs`: `handle_timeout` and the timer internals, keepalive pings included.
//! - `handshake.rs`: the opening handshake: the server's `accept`/`reject`, and reading and
//!   checking the request or response head.
//! - `send.rs`: the send commands (`send_text`, `send_fragment`, `ping`, `close`, ...), the
//!   framing of what is queued, and failing the connection.
//! - `deflate.rs` (feature `deflate`): permessage-deflate state, compressed sends and inflation
//!   of received messages.

// The rest of `impl Connection`, one file per duty. rustdoc lists their methods in this
// declaration order (hence the blank lines, which keep rustfmt from sorting them), before
// those of the block in this file: inputs, timers, handshake answers, send commands.
mod recv;

mod timers;

mod handshake;

mod send;

#[cfg(feature = "deflate")]
mod deflate;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

use crate::close::CloseFrame;
use crate::config::{Config, Delivery};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateParams, negotiate};
use crate::entropy::{Entropy, Seed};
use crate::error::SendError;
use crate::event::{ControlPayload, Event, MAX_CONTROL_PAYLOAD};
use crate::frame::{HeaderRules, MAX_HEADER_LEN, OpCode};
use crate::handshake::{ClientRequest, Negotiated, Request};
use crate::output::{KEEP_CAPACITY, Output};
use crate::time::Instant;

#[cfg(feature = "deflate")]
use self::deflate::Deflate;
use self::recv::Reader;
use self::send::MessageTx;

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
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// How many bytes of the last `recv` input belonged to the opening head: where a refused
    /// client's response body starts in the input it was given.
    pub(crate) head_end_in_input: usize,
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
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{ClientRequest, Config, Connection, Instant, Seed, State};
    ///
    /// let request = ClientRequest::new("example.com", "/chat");
    /// // Use `Seed::from_os()` for real connections: masking keys must be unpredictable.
    /// let client = Connection::client(Config::default(), request, Seed([7; 32]), Instant::ZERO)?;
    /// // Nothing is written yet: the request waits in `transmit` for the caller's socket.
    /// assert!(client.transmit().starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
    /// assert_eq!(client.state(), State::Connecting);
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
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
        conn.client_key = crate::handshake::new_key(nonce);
        #[cfg(feature = "deflate")]
        let offer = conn.config.deflate.as_ref().map(negotiate::client_offer);
        #[cfg(not(feature = "deflate"))]
        let offer: Option<String> = None;
        let mut head = Vec::new();
        crate::handshake::write_request(&request, &conn.client_key, offer.as_deref(), &mut head)?;
        conn.queue_bytes(&head);
        conn.client_request = Some(request);
        conn.phase = Phase::ClientHandshake;
        conn.arm_handshake_timer(now);
        Ok(conn)
    }

    /// A server awaiting the client's opening request.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Event, Instant, State};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::server(Config::default(), now);
    /// # let request = wsproto::ClientRequest::new("example.com", "/chat");
    /// # let client = Connection::client(Config::default(), request, wsproto::Seed([7; 32]), now)?;
    /// # let mut input = client.transmit().to_vec();
    /// // `input` holds the client's request, read from the socket.
    /// let recv = server.recv(now, &mut input)?;
    /// let Some(Event::Request(request)) = recv.event else { panic!("no request") };
    /// assert_eq!(request.path(), "/chat");
    /// // The connection waits for the application's verdict: `accept` or `reject`.
    /// assert_eq!(server.state(), State::Connecting);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn server(config: Config, now: Instant) -> Connection {
        let mut conn = Connection::new(Role::Server, config, None, now);
        conn.phase = Phase::ServerHandshake;
        conn.arm_handshake_timer(now);
        conn
    }

    /// A connection already open: the upgrade happened elsewhere (hyper or axum, HTTP/2
    /// extended CONNECT). A client needs `seed` for masking keys; a server ignores it.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Instant, Role, Seed, State};
    ///
    /// // hyper has already answered the upgrade: frames flow from the first byte.
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// assert_eq!(server.state(), State::Open);
    /// server.send_text("hi")?;
    /// // A server's frames are unmasked: FIN and the text opcode, the length, the payload.
    /// assert_eq!(server.transmit(), b"\x81\x02hi");
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
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

    /// As [`upgraded`](Connection::upgraded), with what another HTTP stack's handshake agreed:
    /// the subprotocol ([`subprotocol`](Connection::subprotocol) reports it) and, with the
    /// `deflate` feature, permessage-deflate. See [`Negotiated`] for the whole path.
    pub fn upgraded_negotiated(
        role: Role,
        config: Config,
        seed: Seed,
        now: Instant,
        negotiated: Negotiated,
    ) -> Connection {
        let mut conn = Connection::upgraded(role, config, seed, now);
        let (subprotocol, deflate) = negotiated.into_parts();
        conn.subprotocol = subprotocol;
        #[cfg(feature = "deflate")]
        if let Some(params) = deflate {
            conn.enable_deflate(params);
        }
        #[cfg(not(feature = "deflate"))]
        let () = deflate;
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
            head_end_in_input: 0,
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
    ///       + permessage-deflate: 424 KiB + 7 * 2^(mem_level + 6) when `Config::deflate` is set
    ///         (438 KiB at the default memory level 5; see the `deflate` module)
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
        // permessage-deflate state, measured in the `deflate` module docs: the compressor at
        // 15 window bits (a 128 KiB hash table, 128 KiB of window and chains, 7 bytes per
        // symbol of a 2^(mem_level + 6) block, 8 KiB of state) and 47 KiB for the
        // decompressor, plus one 16 KiB inflate step past the message limit, and the history
        // a release keeps (32 KiB each way), which briefly exists beside a stream, with the
        // inflater's 32 KiB copy of its window while it is taken.
        #[cfg(feature = "deflate")]
        let deflate = match &config.deflate {
            Some(d) => {
                let compressor = (264 << 10) + (7 << (u32::from(d.mem_level_clamped()) + 6));
                compressor + ((48 + 16 + 3 * 32) << 10)
            }
            None => 0,
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
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::handshake::Accept;
    /// use wsproto::{CloseCode, Config, Connection, Instant, State};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::server(Config::default(), now);
    /// assert_eq!(server.state(), State::Connecting);
    /// # let request = wsproto::ClientRequest::new("example.com", "/");
    /// # let mut client = Connection::client(Config::default(), request, wsproto::Seed([7; 32]), now)?;
    /// # let mut input = client.transmit().to_vec();
    /// # client.advance_transmit(input.len());
    /// # server.recv(now, &mut input)?;
    /// server.accept(now, &Accept::new())?;
    /// assert_eq!(server.state(), State::Open);
    /// # let mut input = server.transmit().to_vec();
    /// # server.advance_transmit(input.len());
    /// # client.recv(now, &mut input)?;
    /// server.close(now, CloseCode::GOING_AWAY, "")?;
    /// assert_eq!(server.state(), State::Closing);
    /// # let mut input = server.transmit().to_vec();
    /// # client.recv(now, &mut input)?;
    /// # let mut input = client.transmit().to_vec();
    /// // The client's echo of the close arrives.
    /// server.recv(now, &mut input)?;
    /// assert_eq!(server.state(), State::Closed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
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
    #[inline]
    pub fn input_needed(&self) -> usize {
        self.input_needed
    }

    // ---- outputs ----

    /// The next bytes to write to the transport (empty when there are none). After writing,
    /// report how many went with [`advance_transmit`](Connection::advance_transmit).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// server.send_text("hello")?;
    /// assert_eq!(server.transmit(), b"\x81\x05hello");
    /// // A socket may take only part of it; the rest stays queued for the next write.
    /// server.advance_transmit(3);
    /// assert_eq!(server.transmit(), b"ello");
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
    #[inline]
    pub fn transmit(&self) -> &[u8] {
        self.output.front()
    }

    /// All bytes waiting to be written, as slices in order, for a vectored write.
    pub fn transmit_slices(&self) -> impl Iterator<Item = &[u8]> {
        self.output.segments().filter(|s| !s.is_empty())
    }

    /// Marks `n` bytes of the output as written.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use wsproto::{Config, Connection, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// server.send_binary(&[1, 2, 3])?;
    /// let mut socket = Vec::new(); // stands in for a `TcpStream`
    /// while !server.transmit().is_empty() {
    ///     let written = socket.write(server.transmit())?;
    ///     server.advance_transmit(written);
    /// }
    /// assert_eq!(socket, [0x82, 3, 1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    #[inline]
    pub fn transmit_len(&self) -> usize {
        self.output.len()
    }

    /// The next instant at which [`handle_timeout`](Connection::handle_timeout) has work, or
    /// `None` if no timer is armed (then the caller needs no clock at all).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{Config, Connection, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let config = Config::default().keepalive(Duration::from_secs(20), Duration::from_secs(5));
    /// let mut server = Connection::upgraded(Role::Server, config, Seed([0; 32]), now);
    /// // Sleep until the deadline, or until input arrives, whichever is first.
    /// assert_eq!(server.poll_timeout(), Some(Instant::from_millis(20_000)));
    /// // Without timers there is nothing to wait for.
    /// let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// assert_eq!(client.poll_timeout(), None);
    /// # client.send_text("still here")?;
    /// # let mut input = client.transmit().to_vec();
    /// // Input from the peer proves it is alive, so the keepalive ping moves back.
    /// server.recv(Instant::from_millis(15_000), &mut input)?;
    /// assert_eq!(server.poll_timeout(), Some(Instant::from_millis(35_000)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Checked inline first: most connections between messages have no timer armed.
        let timers = if self.timers.iter().all(Option::is_none) {
            None
        } else {
            TIMERS.iter().filter_map(|&t| self.deadline(t)).min()
        };
        // permessage-deflate's idle release (its deadline lives in its own state).
        #[cfg(feature = "deflate")]
        let timers = match (timers, self.deflate_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        timers
    }

    /// Whether the caller should now close the transport: the connection has ended and all
    /// output is written. The server closes first (RFC 6455 7.1.1); a client waits for the
    /// server to, up to [`Config::close_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{CloseCode, Config, Connection, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// client.close(now, CloseCode::NORMAL, "done")?;
    /// # let mut input = client.transmit().to_vec();
    /// # client.advance_transmit(input.len());
    /// # server.recv(now, &mut input)?;
    /// # let mut input = server.transmit().to_vec();
    /// # server.advance_transmit(input.len());
    /// # client.recv(now, &mut input)?;
    /// // Both close frames have been exchanged and written. The server ends the TCP
    /// // connection first, so that it, not the client, holds the TIME_WAIT state.
    /// assert!(server.wants_transport_close());
    /// assert!(!client.wants_transport_close());
    /// // The client closes its end when it reads the server's EOF.
    /// client.recv_eof(now)?;
    /// assert!(client.wants_transport_close());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
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
}
