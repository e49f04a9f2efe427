//! The bodies of the cargo-fuzz targets in `fuzz/`, shared with the seed-corpus tests.
//!
//! Each function takes the fuzzer's raw bytes and checks invariants, not just "no panic":
//! `consumed` never exceeds the input, every error carries a close code or an HTTP status,
//! everything a connection queues parses as valid frames for its role, and in round trips
//! what was received equals what was sent. A violated invariant panics, which the fuzzer
//! reports as a crash.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use arbitrary::{Arbitrary, Unstructured};

use crate::frame::{FrameHeader, HeaderRules, OpCode, decode_header, encode_header};
use crate::handshake::{Accept, ClientRequest};
use crate::mask::{apply_mask, apply_mask_naive};
use crate::utf8::Utf8Validator;
use crate::{CloseCode, Config, Connection, DataKind, Delivery, Error, Event, Instant, Role, Seed};

/// Frame header decoding: never reads past the input, and re-encoding what it decoded gives a
/// header that decodes to the same thing.
pub fn frame_header(data: &[u8]) {
    for rules in [
        HeaderRules {
            rsv_allowed: 0,
            expect_masked: true,
        },
        HeaderRules {
            rsv_allowed: 0b100,
            expect_masked: false,
        },
    ] {
        if let Ok(Some((header, len))) = decode_header(data, rules) {
            assert!((2..=14).contains(&len) && len <= data.len());
            let (bytes, n) = encode_header(&header);
            assert_eq!(decode_header(&bytes[..n], rules), Ok(Some((header, n))));
            assert!(n <= len, "our encoding is minimal");
        }
    }
}

/// Masking at any offset, on the run-time-chosen and the baseline loop and as a one-pass
/// append, equals the byte-at-a-time definition.
pub fn mask(data: &[u8]) {
    let Some((head, payload)) = data.split_first_chunk::<5>() else {
        return;
    };
    let key = [head[0], head[1], head[2], head[3]];
    let offset = usize::from(head[4]);
    let mut fast = payload.to_vec();
    let mut slow = payload.to_vec();
    apply_mask(&mut fast, key, offset);
    apply_mask_naive(&mut slow, key, offset);
    assert_eq!(fast, slow);
    let mut baseline = payload.to_vec();
    crate::mask::apply_mask_baseline(&mut baseline, key, offset);
    assert_eq!(baseline, slow, "the baseline (non-AVX2) loop differs");
    // The one-pass copy appends after whatever the buffer holds; the prefix must stay put.
    let prefix = &payload[..payload.len() % 11];
    let mut appended = prefix.to_vec();
    crate::mask::extend_masked(&mut appended, payload, key, offset);
    assert_eq!(
        appended.get(..prefix.len()),
        Some(prefix),
        "extend_masked moved the prefix"
    );
    assert_eq!(
        appended.get(prefix.len()..),
        Some(&slow[..]),
        "extend_masked differs"
    );
}

/// The incremental UTF-8 validator, fed in pieces, agrees with `core::str::from_utf8`.
pub fn utf8(data: &[u8]) {
    let Some((&cuts, text)) = data.split_first() else {
        return;
    };
    let mut validator = Utf8Validator::new();
    let mut ok = true;
    let mut start = 0;
    let step = usize::from(cuts % 7) + 1;
    while start < text.len() && ok {
        let end = (start + step).min(text.len());
        ok = validator.feed(&text[start..end]).is_ok();
        start = end;
    }
    let complete = ok && validator.is_complete();
    assert_eq!(complete, core::str::from_utf8(text).is_ok());
}

/// Split points and bytes for the stream targets: the first byte picks the read sizes.
fn reads(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&size, rest)) => (usize::from(size % 64) + 1, rest),
        None => (1, data),
    }
}

fn small_config(delivery: Delivery) -> Config {
    Config::default()
        .max_frame_size(1 << 16)
        .max_message_size(1 << 17)
        .max_fragments(64)
        .max_pending_output(1 << 18)
        .delivery(delivery)
}

/// Feeds `input` to `conn` in reads of `step` bytes, checking the invariants of each call.
/// Returns the error that ended the stream, if any; whole messages go to `messages`.
fn feed(
    conn: &mut Connection,
    input: &[u8],
    step: usize,
    messages: &mut Vec<(DataKind, Vec<u8>)>,
) -> Option<Error> {
    let mut buf = Vec::new();
    let mut pending = input;
    loop {
        let take = step.min(pending.len());
        buf.extend_from_slice(&pending[..take]);
        pending = &pending[take..];
        loop {
            let len = buf.len();
            let base = buf.as_ptr() as usize;
            match conn.recv(Instant::ZERO, &mut buf) {
                Ok(recv) => {
                    assert!(recv.consumed <= len, "consumed more than the input");
                    let progress = recv.consumed > 0 || recv.event.is_some();
                    let needed = conn.input_needed();
                    if needed > 0 {
                        assert!(recv.event.is_none() && needed > len - recv.consumed);
                        assert!(needed as u64 <= conn.config().whole_frame_limit);
                    }
                    if let Some(Event::Message(m)) = &recv.event {
                        // The adapters hand text out as `Utf8Bytes` unchecked, and split a lent
                        // payload out of the consumed input by address: both must hold.
                        if m.kind == DataKind::Text {
                            assert!(core::str::from_utf8(&m.payload).is_ok(), "invalid text");
                        }
                        if let crate::Payload::Borrowed(lent) = &m.payload {
                            let offset = (lent.as_ptr() as usize).wrapping_sub(base);
                            assert!(offset + lent.len() <= recv.consumed, "lent past consumed");
                        }
                        messages.push((m.kind, m.payload.as_bytes().to_vec()));
                    }
                    if let Some(Event::Request(_)) = recv.event {
                        let consumed = recv.consumed;
                        buf.drain(..consumed);
                        let _ = conn.accept(Instant::ZERO, &Accept::new());
                        continue;
                    }
                    let consumed = recv.consumed;
                    buf.drain(..consumed);
                    if !progress || buf.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    assert!(
                        e.close_code().is_some()
                            || e.http_status().is_some()
                            || matches!(e, Error::Closed | Error::AwaitingAccept),
                        "error without a close code or status: {e:?}"
                    );
                    return Some(e);
                }
            }
        }
        if pending.is_empty() {
            return None;
        }
    }
}

/// Checks that `bytes` are whole, valid frames as `role` sends them, and returns the close code
/// of a close frame among them.
fn check_output_frames(mut bytes: &[u8], role: Role) -> Option<CloseCode> {
    let rules = HeaderRules {
        rsv_allowed: 0,
        expect_masked: role == Role::Client,
    };
    let mut close = None;
    while !bytes.is_empty() {
        let (header, n) = match decode_header(bytes, rules) {
            Ok(Some(done)) => done,
            other => panic!("queued output is not a valid frame for {role:?}: {other:?}"),
        };
        let len = usize::try_from(header.len).unwrap_or(usize::MAX);
        assert!(bytes.len() - n >= len, "queued frame is truncated");
        let mut payload = bytes[n..n + len].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        if header.opcode == OpCode::Close {
            assert!(close.is_none(), "two close frames queued");
            close = Some(match payload.as_slice() {
                [] => CloseCode::NO_STATUS_RECEIVED,
                [a, b, ..] => CloseCode(u16::from_be_bytes([*a, *b])),
                [_] => panic!("1-byte close payload queued"),
            });
        }
        bytes = &bytes[n + len..];
    }
    close
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let out: Vec<u8> = conn.transmit_slices().flatten().copied().collect();
    assert_eq!(out.len(), conn.transmit_len());
    conn.advance_transmit(out.len());
    out
}

fn open_stream(data: &[u8], role: Role) {
    let (step, input) = reads(data);
    let mut outcomes = Vec::new();
    let whole_frames = small_config(Delivery::Messages).whole_frame_limit(1 << 12);
    for config in [
        small_config(Delivery::Messages),
        whole_frames,
        small_config(Delivery::Chunks),
    ] {
        let mut conn = Connection::upgraded(role, config, Seed([1; 32]), Instant::ZERO);
        let mut messages = Vec::new();
        let error = feed(&mut conn, input, step, &mut messages);
        let close = check_output_frames(&drain(&mut conn), role);
        if let Some(Error::Protocol(e)) = &error {
            assert_eq!(
                close,
                Some(e.close_code()),
                "the close frame carries the error's code"
            );
        }
        outcomes.push((messages, error.map(|e| e.close_code())));
    }
    // Lending whole frames changes how input is consumed, never what is delivered or which
    // error ends the stream (its text is still validated as it arrives).
    assert_eq!(
        outcomes[0], outcomes[1],
        "whole-frame lending changed the events"
    );
}

/// Arbitrary bytes, at arbitrary split points, into an open server.
pub fn server_stream(data: &[u8]) {
    open_stream(data, Role::Server);
}

/// Arbitrary bytes, at arbitrary split points, into an open client.
pub fn client_stream(data: &[u8]) {
    open_stream(data, Role::Client);
}

/// A handshake request into a server: errors carry an HTTP status and get an HTTP reply.
pub fn handshake_request(data: &[u8]) {
    let (step, input) = reads(data);
    let mut conn = Connection::server(
        Config::default().max_handshake_size(4096).max_headers(32),
        Instant::ZERO,
    );
    let error = feed(&mut conn, input, step, &mut Vec::new());
    let out = drain(&mut conn);
    if let Some(Error::Handshake(e)) = error {
        let status = e.status();
        assert!((400..600).contains(&status));
        let prefix = alloc::format!("HTTP/1.1 {status} ");
        assert!(
            out.starts_with(prefix.as_bytes()),
            "the reply carries the status"
        );
    }
}

/// A handshake response into a client: never panics, errors carry a status.
pub fn handshake_response(data: &[u8]) {
    let (step, input) = reads(data);
    let request = ClientRequest::new("example.com", "/").subprotocol("chat");
    let Ok(mut conn) = Connection::client(
        Config::default().max_handshake_size(4096),
        request,
        Seed([2; 32]),
        Instant::ZERO,
    ) else {
        panic!("a valid request was refused")
    };
    drain(&mut conn);
    if let Some(Error::Handshake(e)) = feed(&mut conn, input, step, &mut Vec::new()) {
        let _ = e.status();
    }
}

/// One operation of the round-trip and connection targets.
#[derive(Debug, Clone, Arbitrary)]
#[non_exhaustive]
pub enum Op {
    /// Send a text message.
    Text(String),
    /// Send a binary message.
    Binary(Vec<u8>),
    /// Send one fragment of a message.
    Fragment(DataKind, Vec<u8>, bool),
    /// Send a ping.
    Ping(Vec<u8>),
    /// Move at most this many bytes from each side to the other.
    Deliver(u16),
    /// Let time pass.
    Wait(u16),
    /// Start the close handshake.
    Close(u16),
}

/// What one side received, as owned values.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    messages: Vec<(DataKind, Vec<u8>)>,
    closed: bool,
}

struct Side {
    conn: Connection,
    inbox: Vec<u8>,
    seen: Seen,
    sent: Vec<(DataKind, Vec<u8>)>,
    fragment: Option<(DataKind, Vec<u8>)>,
}

impl Side {
    fn new(conn: Connection) -> Side {
        Side {
            conn,
            inbox: Vec::new(),
            seen: Seen::default(),
            sent: Vec::new(),
            fragment: None,
        }
    }

    fn apply(&mut self, op: &Op, now: Instant) {
        let conn = &mut self.conn;
        match op {
            Op::Text(text) => {
                if conn.send_text(text).is_ok() {
                    self.sent.push((DataKind::Text, text.clone().into_bytes()));
                }
            }
            Op::Binary(data) => {
                if conn.send_binary(data).is_ok() {
                    self.sent.push((DataKind::Binary, data.clone()));
                }
            }
            Op::Fragment(kind, data, last) => {
                if conn.send_fragment(*kind, data, *last).is_ok() {
                    let entry = self.fragment.get_or_insert_with(|| (*kind, Vec::new()));
                    entry.1.extend_from_slice(data);
                    if *last && let Some(done) = self.fragment.take() {
                        self.sent.push(done);
                    }
                }
            }
            Op::Ping(data) => {
                let _ = conn.ping(data);
            }
            Op::Close(code) => {
                let _ = conn.close(now, CloseCode(*code), "bye");
            }
            Op::Deliver(_) | Op::Wait(_) => {}
        }
    }

    /// Feeds the inbox; returns false once the connection failed.
    fn receive(&mut self, now: Instant) -> bool {
        loop {
            let len = self.inbox.len();
            let recv = match self.conn.recv(now, &mut self.inbox) {
                Ok(recv) => recv,
                Err(e) => panic!("a well-behaved peer caused {e:?}"),
            };
            assert!(recv.consumed <= len);
            let consumed = recv.consumed;
            match recv.event {
                Some(Event::Message(m)) => self.seen.messages.push((m.kind, m.payload.into_vec())),
                Some(Event::Close(_)) => self.seen.closed = true,
                Some(_) => {}
                None if consumed == 0 => return true,
                None => {}
            }
            self.inbox.drain(..consumed);
        }
    }
}

fn move_bytes(from: &mut Side, to: &mut Side, limit: usize) {
    let out: Vec<u8> = from
        .conn
        .transmit_slices()
        .flatten()
        .copied()
        .take(limit)
        .collect();
    from.conn.advance_transmit(out.len());
    to.inbox.extend_from_slice(&out);
}

/// Arbitrary operations through a client/server pair: each side receives exactly what the
/// other sent, in order.
pub fn round_trip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(ops) = Vec::<Op>::arbitrary(&mut u) else {
        return;
    };
    let config = Config::default().max_pending_output(1 << 20);
    let mut client = Side::new(Connection::upgraded(
        Role::Client,
        // One side lends whole frames in place, the other reassembles them.
        config.clone().whole_frame_limit(1 << 20),
        Seed([3; 32]),
        Instant::ZERO,
    ));
    let mut server = Side::new(Connection::upgraded(
        Role::Server,
        config,
        Seed([0; 32]),
        Instant::ZERO,
    ));
    for (i, op) in ops.iter().enumerate() {
        let now = Instant::ZERO;
        let side = if i % 2 == 0 { &mut client } else { &mut server };
        side.apply(op, now);
        if let Op::Deliver(n) = op {
            move_bytes(&mut client, &mut server, usize::from(*n));
            move_bytes(&mut server, &mut client, usize::from(*n));
            client.receive(now);
            server.receive(now);
        }
    }
    for _ in 0..4 {
        move_bytes(&mut client, &mut server, usize::MAX);
        move_bytes(&mut server, &mut client, usize::MAX);
        client.receive(Instant::ZERO);
        server.receive(Instant::ZERO);
    }
    assert_eq!(
        server.seen.messages, client.sent,
        "server saw what the client sent"
    );
    assert_eq!(
        client.seen.messages, server.sent,
        "client saw what the server sent"
    );
}

/// A whole connection with a hostile peer: interleaved input, sends, timeouts and EOF, with
/// every timer on. Nothing panics, `consumed` stays within the input, and the output stays
/// valid frames with the close code of any protocol error.
pub fn connection(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let role = if bool::arbitrary(&mut u).unwrap_or(false) {
        Role::Client
    } else {
        Role::Server
    };
    // Whole-frame lending on or off: `recv` is also fed inputs that break its contract
    // (unconsumed bytes not passed back), which must stay harmless.
    let lend = bool::arbitrary(&mut u).unwrap_or(false);
    let config = small_config(Delivery::Messages)
        .keepalive(Duration::from_millis(100), Duration::from_millis(50))
        .close_timeout(Duration::from_millis(200))
        .whole_frame_limit(if lend { 1 << 12 } else { 0 });
    let mut conn = Connection::upgraded(role, config, Seed([4; 32]), Instant::ZERO);
    let mut now = Instant::ZERO;
    let mut out = Vec::new();
    let mut error = None;
    // `Unstructured` keeps answering with defaults once exhausted, so stop on its length.
    while !u.is_empty() {
        let Ok(choice) = u.int_in_range(0u8..=5) else {
            break;
        };
        match choice {
            0 => {
                let Ok(mut bytes) = Vec::<u8>::arbitrary(&mut u) else {
                    break;
                };
                let len = bytes.len();
                match conn.recv(now, &mut bytes) {
                    Ok(recv) => assert!(recv.consumed <= len),
                    Err(e) => {
                        assert!(e.close_code().is_some() || matches!(e, Error::Closed));
                        error.get_or_insert(e);
                    }
                }
            }
            1 => {
                let Ok(op) = Op::arbitrary(&mut u) else { break };
                let mut side = Side::new(conn);
                side.apply(&op, now);
                conn = side.conn;
            }
            2 => {
                now = now + Duration::from_millis(u64::from(u.arbitrary::<u8>().unwrap_or(0)));
                if let Err(e) = conn.handle_timeout(now) {
                    assert!(e.close_code().is_some());
                }
            }
            3 => {
                if let Some(at) = conn.poll_timeout() {
                    assert!(
                        at >= now
                            || conn.handle_timeout(now).is_err()
                            || conn.poll_timeout() != Some(at)
                    );
                }
            }
            4 => {
                let _ = conn.recv_eof(now);
            }
            _ => out.extend(drain(&mut conn)),
        }
    }
    out.extend(drain(&mut conn));
    let close = check_output_frames(&out, role);
    if let Some(Error::Protocol(_)) = error {
        assert!(
            close.is_some(),
            "a protocol error always leaves a close frame queued"
        );
    }
}

/// Builds frames for the seed corpus: `FrameHeader` encoded, then the payload masked by rules.
pub fn frame_bytes(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        len: payload.len() as u64,
    };
    let (bytes, n) = encode_header(&header);
    let mut out = bytes[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// Inflate with limits: any bytes, split anywhere, as a compressed message. The output never
/// passes the limit, and the split does not change the outcome. Then the same bytes as a
/// compressed message into a server that negotiated permessage-deflate.
#[cfg(feature = "deflate")]
pub fn inflate(data: &[u8]) {
    use crate::deflate::codec::Decompressor;
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let limit = usize::from(knobs) * 64;
    let run = |step: usize| {
        let mut d = Decompressor::new(15, knobs & 1 == 0);
        let mut out = Vec::new();
        let mut result = Ok(());
        for piece in input.chunks(step.max(1)) {
            result = d.decompress(piece, &mut out, limit);
            assert!(out.len() <= limit + 1, "inflated past the limit");
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = d.finish_message(&mut out, limit);
        }
        assert!(out.len() <= limit + 1, "inflated past the limit");
        (
            result.is_ok(),
            if result.is_ok() { out } else { Vec::new() },
        )
    };
    let whole = run(input.len());
    assert_eq!(
        run(usize::from(knobs % 13) + 1),
        whole,
        "the split changed the outcome"
    );

    let params = crate::deflate::DeflateParams::default();
    let config = small_config(Delivery::Messages).max_message_size(limit as u64);
    let mut conn = Connection::upgraded_with_deflate(
        Role::Server,
        config,
        Seed([5; 32]),
        Instant::ZERO,
        params,
    );
    let mut frame = frame_bytes(OpCode::Binary, true, input, Some([1, 2, 3, 4]));
    frame[0] |= 0x40;
    if let Some(Error::Protocol(e)) = feed(
        &mut conn,
        &frame,
        usize::from(knobs % 31) + 1,
        &mut Vec::new(),
    ) {
        assert_eq!(
            check_output_frames(&drain(&mut conn), Role::Server),
            Some(e.close_code())
        );
    }
}
