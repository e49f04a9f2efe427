//! Shared helpers for the integration tests: raw frame builders, a wire decoder, owned copies of
//! events, a chunked feeder, and a client/server `Pair` with a fake clock.
//!
//! Every test file includes this module, and none uses all of it.
#![allow(dead_code)]

use std::time::Duration;

use wsproto::handshake::{Accept, accept_key};
use wsproto::mask::apply_mask;
use wsproto::{
    ClientRequest, Config, Connection, DataKind, Error, Event, Instant, Request, Response, Role,
    Seed, State,
};

// ---- opcodes and raw frames ----

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The masking key of RFC 6455 section 5.7's examples; used for frames a test client sends.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The clock's epoch, where every connection in these tests starts.
pub const T0: Instant = Instant::ZERO;

/// A frame header with any bits: minimal length encoding, mask bit and key if `mask` is set.
pub fn header(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, len: u64) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | ((rsv & 0b111) << 4) | (opcode & 0x0F)];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out
}

/// A whole frame: header plus the payload, masked with `mask` if given.
pub fn frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, rsv, opcode, mask, payload.len() as u64);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A frame as a client sends it (masked with [`KEY`]): input for a server under test.
pub fn c2s(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, Some(KEY), payload)
}

/// A frame as a server sends it (unmasked): input for a client under test.
pub fn s2c(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, None, payload)
}

/// A well-formed frame from the peer of a connection with role `to`.
pub fn to(role: Role, opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Server => c2s(opcode, fin, payload),
        Role::Client => s2c(opcode, fin, payload),
    }
}

/// A close frame's payload: the code in network order, then the reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(reason);
    out
}

/// Concatenates byte strings.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---- connections ----

pub fn seed() -> Seed {
    Seed([7; 32])
}

/// An open connection of `role` (the upgrade happened elsewhere).
pub fn open(role: Role, config: Config) -> Connection {
    Connection::upgraded(role, config, seed(), T0)
}

pub fn server(config: Config) -> Connection {
    open(Role::Server, config)
}

pub fn client(config: Config) -> Connection {
    open(Role::Client, config)
}

// ---- what a connection wrote ----

/// Takes everything the connection has queued (one `advance_transmit`).
pub fn drain(conn: &mut Connection) -> Vec<u8> {
    let out: Vec<u8> = conn.transmit_slices().flatten().copied().collect();
    assert_eq!(out.len(), conn.transmit_len(), "transmit_len disagrees");
    conn.advance_transmit(out.len());
    out
}

/// Takes output until none is left (draining may release a held-back pong).
pub fn drain_all(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let more = drain(conn);
        if more.is_empty() {
            return out;
        }
        out.extend(more);
    }
}

/// A frame decoded from a connection's output, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    /// Header bytes, including the masking key.
    pub header_len: usize,
    pub payload: Vec<u8>,
}

/// Decodes a sequence of whole frames with a decoder independent of the crate's. Panics on a
/// truncated frame: the connections under test only ever queue whole frames.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "truncated header: {bytes:?}");
        let (b0, b1) = (bytes[0], bytes[1]);
        let (len, mut at) = match b1 & 0x7F {
            126 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()), 10),
            n => (u64::from(n), 2),
        };
        let mask = if b1 & 0x80 != 0 {
            let key: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
            at += 4;
            Some(key)
        } else {
            None
        };
        let len = usize::try_from(len).unwrap();
        assert!(bytes.len() >= at + len, "truncated payload");
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(key) = mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push(WireFrame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0b111,
            opcode: b0 & 0x0F,
            mask,
            header_len: at,
            payload,
        });
        bytes = &bytes[at + len..];
    }
    frames
}

/// Drains a connection and decodes its output as frames.
pub fn sent_frames(conn: &mut Connection) -> Vec<WireFrame> {
    parse_frames(&drain(conn))
}

/// The close frames in `frames`, as (code, reason) with `None` for an empty close.
pub fn closes(frames: &[WireFrame]) -> Vec<Option<(u16, Vec<u8>)>> {
    frames
        .iter()
        .filter(|f| f.opcode == OP_CLOSE)
        .map(|f| {
            (f.payload.len() >= 2).then(|| {
                (
                    u16::from_be_bytes([f.payload[0], f.payload[1]]),
                    f.payload[2..].to_vec(),
                )
            })
        })
        .collect()
}

/// Splits an HTTP head (through the blank line) from what follows.
pub fn split_head(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head")
        + 4;
    (
        String::from_utf8(bytes[..end].to_vec()).expect("head is not UTF-8"),
        bytes[end..].to_vec(),
    )
}

/// The value of header `name` in an HTTP head (first match, ASCII-case-insensitive).
pub fn head_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A client connection still in its handshake, its request head (drained), and the
/// `Sec-WebSocket-Accept` value a correct server would answer with.
pub fn client_awaiting_response(
    config: Config,
    request: ClientRequest,
) -> (Connection, String, String) {
    let mut conn = Connection::client(config, request, seed(), T0).expect("valid request");
    let (head, rest) = split_head(&drain(&mut conn));
    assert!(rest.is_empty());
    let key = head_header(&head, "Sec-WebSocket-Key")
        .expect("key")
        .to_owned();
    let accept = accept_key(key.as_bytes());
    (conn, head, accept)
}

/// A 101 response with `accept` and extra header lines (each without CRLF).
pub fn response_101(accept: &str, extra: &[&str]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    for line in extra {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The RFC 6455 section 1.2 sample request, whose key answers `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

// ---- owned events ----

/// An owned copy of an [`Event`], comparable with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Request(Box<Request>),
    Connected(Box<Response>),
    Message(DataKind, Vec<u8>),
    Chunk {
        kind: DataKind,
        data: Vec<u8>,
        first: bool,
        last: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
}

impl Ev {
    pub fn of(event: Event<'_>) -> Ev {
        match event {
            Event::Request(r) => Ev::Request(Box::new(r)),
            Event::Connected(r) => Ev::Connected(Box::new(r)),
            Event::Message(m) => Ev::Message(m.kind, m.payload.into_vec()),
            Event::Chunk(c) => Ev::Chunk {
                kind: c.kind,
                data: c.data.into_vec(),
                first: c.first,
                last: c.last,
            },
            Event::Ping(p) => Ev::Ping(p.as_bytes().to_vec()),
            Event::Pong(p) => Ev::Pong(p.as_bytes().to_vec()),
            Event::Close(c) => Ev::Close(c.code().0, c.reason().to_owned()),
            // `Event` is `#[non_exhaustive]`: a later release may add events.
            other => panic!("an event these tests do not know: {other:?}"),
        }
    }
}

pub fn text(s: &str) -> Ev {
    Ev::Message(DataKind::Text, s.as_bytes().to_vec())
}

pub fn binary(b: &[u8]) -> Ev {
    Ev::Message(DataKind::Binary, b.to_vec())
}

pub fn close_ev(code: u16, reason: &str) -> Ev {
    Ev::Close(code, reason.to_owned())
}

/// Merges each chunk that continues the previous event's message into it, so that chunk
/// boundaries (which depend on how the stream was split into reads) disappear.
pub fn merge_chunks(events: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for ev in events {
        if let (
            Some(Ev::Chunk { data, last, .. }),
            Ev::Chunk {
                data: more,
                first: false,
                last: more_last,
                ..
            },
        ) = (out.last_mut(), ev)
            && !*last
        {
            data.extend_from_slice(more);
            *last = *more_last;
            continue;
        }
        out.push(ev.clone());
    }
    out
}

/// The events [`Delivery::Messages`](wsproto::Delivery) mode would report for chunked ones:
/// each chunked message becomes one [`Ev::Message`] where its last chunk was, after any control
/// frames that arrived between its fragments.
pub fn chunks_to_messages(events: &[Ev]) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut open: Option<(DataKind, Vec<u8>)> = None;
    for ev in events {
        match ev {
            Ev::Chunk {
                kind,
                data,
                first,
                last,
            } => {
                let (kind, mut acc) = if *first {
                    assert!(open.is_none(), "a message started inside another");
                    (*kind, Vec::new())
                } else {
                    let (open_kind, acc) = open.take().expect("continuation chunk without a first");
                    assert_eq!(open_kind, *kind, "a message changed kind");
                    (open_kind, acc)
                };
                acc.extend_from_slice(data);
                if *last {
                    out.push(Ev::Message(kind, acc));
                } else {
                    open = Some((kind, acc));
                }
            }
            other => out.push(other.clone()),
        }
    }
    assert!(open.is_none(), "unfinished chunked message");
    out
}

// ---- feeding a stream in pieces ----

/// What feeding a stream produced.
#[derive(Debug)]
pub struct Fed {
    pub events: Vec<Ev>,
    pub error: Option<Error>,
    /// Bytes the connection did not consume (a partial head is consumed, so this is only
    /// non-empty after an error or an unanswered request).
    pub leftover: Vec<u8>,
}

/// Feeds `stream` to `conn` in reads split at `cuts` (any order, clamped), the way a run loop
/// does: each read is appended to the unconsumed bytes and `recv` is called until it consumes
/// nothing and reports nothing. Stops at the first error. `on_event` may answer events.
pub fn feed_split_with(
    conn: &mut Connection,
    now: Instant,
    stream: &[u8],
    cuts: &[usize],
    mut on_event: impl FnMut(&mut Connection, &Ev),
) -> Fed {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
    bounds.sort_unstable();
    bounds.push(stream.len());
    let mut events = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut start = 0;
    for end in bounds {
        pending.extend_from_slice(&stream[start..end]);
        start = end;
        let mut at = 0;
        // The crate docs' loop: feed until the read is used up or nothing more happens.
        while at < pending.len() {
            match conn.recv(now, &mut pending[at..]) {
                Ok(recv) => {
                    at += recv.consumed;
                    match recv.event {
                        Some(event) => {
                            let ev = Ev::of(event);
                            on_event(conn, &ev);
                            events.push(ev);
                        }
                        None if recv.consumed == 0 => break,
                        None => {}
                    }
                }
                Err(error) => {
                    pending.drain(..at);
                    pending.extend_from_slice(&stream[start..]);
                    return Fed {
                        events,
                        error: Some(error),
                        leftover: pending,
                    };
                }
            }
        }
        pending.drain(..at);
    }
    Fed {
        events,
        error: None,
        leftover: pending,
    }
}

/// [`feed_split_with`] that accepts any request with no subprotocol.
pub fn feed_split(conn: &mut Connection, now: Instant, stream: &[u8], cuts: &[usize]) -> Fed {
    feed_split_with(conn, now, stream, cuts, |conn, ev| {
        if let Ev::Request(_) = ev {
            conn.accept(now, &Accept::new()).expect("accept");
        }
    })
}

/// Feeds `stream` in one read.
pub fn feed(conn: &mut Connection, stream: &[u8]) -> Fed {
    feed_split(conn, T0, stream, &[])
}

/// Feeds `stream` one byte per read.
pub fn feed_bytewise(conn: &mut Connection, stream: &[u8]) -> Fed {
    let cuts: Vec<usize> = (1..stream.len()).collect();
    feed_split(conn, T0, stream, &cuts)
}

// ---- a client and a server talking ----

/// One end of a [`Pair`]: the connection plus what it received.
#[derive(Debug)]
pub struct Side {
    pub conn: Connection,
    /// Events reported by `recv`, in order.
    pub events: Vec<Ev>,
    /// The first error `recv` or `handle_timeout` returned.
    pub error: Option<Error>,
    /// Every byte this side wrote to the transport.
    pub wrote: Vec<u8>,
    /// Set once the transport reported EOF to this side.
    pub eof: bool,
    inbox: Vec<u8>,
}

impl std::ops::Deref for Side {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Side {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Side {
    fn new(conn: Connection) -> Side {
        Side {
            conn,
            events: Vec::new(),
            error: None,
            wrote: Vec::new(),
            eof: false,
            inbox: Vec::new(),
        }
    }

    /// Takes the events reported so far.
    pub fn take_events(&mut self) -> Vec<Ev> {
        std::mem::take(&mut self.events)
    }

    fn record(&mut self, result: Result<(), Error>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    /// Feeds the inbox to the connection until it makes no progress.
    fn process(&mut self, now: Instant, accept: &Accept) {
        if self.error.is_some() || self.eof {
            // A real run loop stops reading once the connection failed.
            self.inbox.clear();
            return;
        }
        let mut at = 0;
        while at < self.inbox.len() {
            match self.conn.recv(now, &mut self.inbox[at..]) {
                Ok(recv) => {
                    at += recv.consumed;
                    match recv.event {
                        Some(event) => {
                            let ev = Ev::of(event);
                            if let Ev::Request(_) = ev {
                                self.conn.accept(now, accept).expect("accept");
                            }
                            self.events.push(ev);
                        }
                        None if recv.consumed == 0 => break,
                        None => {}
                    }
                }
                Err(e) => {
                    self.error = Some(e);
                    self.inbox.clear();
                    return;
                }
            }
        }
        self.inbox.drain(..at);
    }
}

/// A client and a server connected by two in-memory pipes, with a fake clock.
#[derive(Debug)]
pub struct Pair {
    pub client: Side,
    pub server: Side,
    /// The fake clock.
    pub now: Instant,
    /// How the server answers the request.
    pub accept: Accept,
    /// Sizes of the reads bytes are delivered in, used in turn; empty means one read per
    /// transfer.
    pub read_sizes: Vec<usize>,
    read_index: usize,
}

impl Pair {
    /// A pair whose handshake has not started moving: the client's request is queued.
    pub fn connecting(
        client: Config,
        server: Config,
        request: ClientRequest,
        accept: Accept,
    ) -> Pair {
        Pair {
            client: Side::new(Connection::client(client, request, seed(), T0).expect("request")),
            server: Side::new(Connection::server(server, T0)),
            now: T0,
            accept,
            read_sizes: Vec::new(),
            read_index: 0,
        }
    }

    /// A pair that completed the handshake for `request`, answered with `accept`. The
    /// handshake's events are cleared.
    pub fn with(client: Config, server: Config, request: ClientRequest, accept: Accept) -> Pair {
        let mut pair = Pair::connecting(client, server, request, accept);
        pair.pump();
        assert_eq!(
            (pair.client.state(), pair.server.state()),
            (State::Open, State::Open),
            "handshake failed: {:?} / {:?}",
            pair.client.error,
            pair.server.error
        );
        assert!(matches!(pair.client.events[..], [Ev::Connected(_)]));
        assert!(matches!(pair.server.events[..], [Ev::Request(_)]));
        pair.client.events.clear();
        pair.server.events.clear();
        pair
    }

    /// An open pair with default requests.
    pub fn new(client: Config, server: Config) -> Pair {
        Pair::with(
            client,
            server,
            ClientRequest::new("example.com", "/chat"),
            Accept::new(),
        )
    }

    /// An open pair with default configs.
    pub fn default_open() -> Pair {
        Pair::new(Config::default(), Config::default())
    }

    fn next_read_size(&mut self) -> usize {
        if self.read_sizes.is_empty() {
            return usize::MAX;
        }
        let size = self.read_sizes[self.read_index % self.read_sizes.len()].max(1);
        self.read_index += 1;
        size
    }

    /// Moves `from`'s output to `to`; returns whether any bytes moved.
    fn transfer(&mut self, client_to_server: bool) -> bool {
        let bytes = {
            let from = if client_to_server {
                &mut self.client
            } else {
                &mut self.server
            };
            let bytes = drain(&mut from.conn);
            from.wrote.extend_from_slice(&bytes);
            bytes
        };
        if bytes.is_empty() {
            return false;
        }
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = self.next_read_size().min(rest.len());
            let (now, accept) = (self.now, self.accept.clone());
            let to = if client_to_server {
                &mut self.server
            } else {
                &mut self.client
            };
            to.inbox.extend_from_slice(&rest[..n]);
            to.process(now, &accept);
            rest = &rest[n..];
        }
        true
    }

    /// Moves bytes both ways until neither side has output left.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let a = self.transfer(true);
            let b = self.transfer(false);
            if !a && !b {
                return;
            }
        }
        panic!("pump did not settle");
    }

    /// The earlier of the two sides' deadlines.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the clock to the next deadline of either side (never backwards) and calls
    /// `handle_timeout` on both; errors are recorded per side. Returns the new time, or `None`
    /// (clock unchanged) when no timer is armed.
    pub fn advance_to_next_deadline(&mut self) -> Option<Instant> {
        let next = self.next_deadline()?;
        self.now = self.now.max(next);
        self.fire_timers();
        Some(self.now)
    }

    /// Moves the clock forward by `by` and calls `handle_timeout` on both sides.
    pub fn advance(&mut self, by: Duration) {
        self.now = self.now + by;
        self.fire_timers();
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        for side in [&mut self.client, &mut self.server] {
            if side.error.is_none() && !side.eof {
                let result = side.conn.handle_timeout(now);
                side.record(result);
            }
        }
    }

    /// Tells the client the server closed the transport; returns what `recv_eof` said.
    pub fn eof_to_client(&mut self) -> Result<(), Error> {
        self.client.eof = true;
        self.client.conn.recv_eof(self.now)
    }

    /// Tells the server the client closed the transport; returns what `recv_eof` said.
    pub fn eof_to_server(&mut self) -> Result<(), Error> {
        self.server.eof = true;
        self.server.conn.recv_eof(self.now)
    }
}
