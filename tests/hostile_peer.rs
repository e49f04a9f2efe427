//! Bad inputs from the history of WebSocket advisories, each a test.

mod common;

use std::time::{Duration, Instant as StdInstant};

use common::*;
use wsproto::{
    Config, Connection, Delivery, Error, HandshakeError, Instant, MAX_QUEUED_PONGS, ProtocolError,
    SendError, TimeoutKind,
};

fn request_with(extra: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

// ---- handshake ----

/// Feeds a head one byte per call and returns the time taken (best of three).
fn bytewise_head_time(padding: usize) -> Duration {
    let head = request_with(&format!("X-Pad: {}\r\n", "a".repeat(padding)));
    (0..3)
        .map(|_| {
            let mut conn = Connection::server(Config::default().max_handshake_size(1 << 20), T0);
            let start = StdInstant::now();
            let fed = feed_bytewise(&mut conn, &head);
            let took = start.elapsed();
            assert!(
                matches!(fed.events.last(), Some(Ev::Request(_))),
                "the head was parsed once whole"
            );
            took
        })
        .min()
        .unwrap_or_default()
}

#[test]
fn head_sent_one_byte_at_a_time_costs_linear_time() {
    // RUSTSEC-2023-0065: re-parsing the head on every read is quadratic. Eight times the bytes
    // must cost about eight times as long, not sixty-four; the margin absorbs a noisy machine.
    let small = bytewise_head_time(8 << 10);
    let large = bytewise_head_time(64 << 10);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
    assert!(
        ratio < 24.0,
        "8x the bytes took {ratio:.1}x the time: not linear"
    );
}

#[test]
fn ten_thousand_headers_get_431() {
    let extra: String = (0..10_000).map(|i| format!("X-{i}: v\r\n")).collect();
    let mut conn = Connection::server(Config::default().max_handshake_size(1 << 20), T0);
    let fed = feed(&mut conn, &request_with(&extra));
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::HeadersTooLarge))
    );
    assert!(drain(&mut conn).starts_with(b"HTTP/1.1 431 "));
}

#[test]
fn one_mib_header_line_gets_431_without_buffering_it() {
    let line = format!("X-Big: {}\r\n", "b".repeat(1 << 20));
    let mut conn = Connection::server(Config::default(), T0);
    let fed = feed_split(
        &mut conn,
        T0,
        &request_with(&line),
        &(1..256).map(|i| i * 4096).collect::<Vec<_>>(),
    );
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::HeadersTooLarge))
    );
    assert!(drain(&mut conn).starts_with(b"HTTP/1.1 431 "));
    assert!(
        conn.buffered_capacity() < 64 << 10,
        "the head buffer was freed and never grew past the cap"
    );
}

#[test]
fn redos_shaped_subprotocol_list_is_parsed_in_one_pass() {
    // Patterns like (a,)* followed by a mismatch blow up backtracking parsers.
    let list = format!("{}!", "a, ".repeat(20_000));
    let mut conn = Connection::server(Config::default().max_handshake_size(1 << 20), T0);
    let fed = feed_split_with(
        &mut conn,
        T0,
        &request_with(&format!("Sec-WebSocket-Protocol: {list}\r\n")),
        &[],
        |_, _| {},
    );
    let Some(Ev::Request(req)) = fed.events.first() else {
        panic!("no request: {fed:?}")
    };
    assert_eq!(req.subprotocols().count(), 20_001);
    assert_eq!(req.subprotocols().last(), Some("!"));
}

#[test]
fn prototype_named_extensions_are_declined() {
    let mut conn = Connection::server(Config::default(), T0);
    let offers =
        "Sec-WebSocket-Extensions: __proto__, constructor; x=1, toString, hasOwnProperty=\"\"\r\n";
    let fed = feed(&mut conn, &request_with(offers));
    assert!(fed.error.is_none());
    let out = String::from_utf8(drain(&mut conn)).expect("ascii response");
    assert!(out.starts_with("HTTP/1.1 101 "));
    assert!(
        !out.to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "nothing unknown is accepted"
    );
}

#[test]
fn slow_handshake_hits_the_timeout() {
    let config = Config::default().handshake_timeout(Duration::from_secs(5));
    let mut conn = Connection::server(config, T0);
    let head = request_with("");
    // Slowloris: a byte a second.
    for (i, byte) in head.iter().take(5).enumerate() {
        let now = Instant::from_millis(i as u64 * 1000);
        assert!(conn.handle_timeout(now).is_ok());
        conn.recv(now, &mut [*byte]).expect("partial head is fine");
    }
    let deadline = conn.poll_timeout().expect("armed");
    assert_eq!(
        deadline,
        Instant::from_millis(5000),
        "the deadline does not move with each byte"
    );
    assert_eq!(
        conn.handle_timeout(Instant::from_millis(10_000)),
        Err(Error::Timeout(TimeoutKind::Handshake))
    );
    assert!(conn.wants_transport_close());
}

// ---- frame lengths and fragments ----

#[test]
fn huge_declared_lengths_allocate_nothing() {
    for len in [(1u64 << 63) - 1, u64::from(u32::MAX) + 1] {
        // Default limits: refused from the header alone.
        let mut conn = server(Config::default());
        let fed = feed(&mut conn, &header(true, 0, OP_BINARY, Some(KEY), len));
        assert_eq!(
            fed.error,
            Some(Error::Protocol(ProtocolError::FrameTooLarge))
        );
        // No limits, streamed: accepted, and still nothing is allocated for it.
        let unlimited = Config::default()
            .max_frame_size(u64::MAX)
            .max_message_size(u64::MAX)
            .delivery(Delivery::Chunks);
        let mut conn = server(unlimited);
        let fed = feed(
            &mut conn,
            &cat(&[&header(true, 0, OP_BINARY, Some(KEY), len), b"abc"]),
        );
        assert!(fed.error.is_none());
        assert_eq!(conn.buffered_capacity(), 0);
    }
}

#[test]
fn length_with_top_bit_set_is_a_protocol_error() {
    let mut conn = server(Config::default());
    let fed = feed(&mut conn, &header(true, 0, OP_BINARY, Some(KEY), 1 << 63));
    assert_eq!(
        fed.error,
        Some(Error::Protocol(ProtocolError::InvalidLength))
    );
    // Only the queued close frame is held.
    assert!(
        conn.buffered_capacity() <= 16,
        "{}",
        conn.buffered_capacity()
    );
}

#[test]
fn millions_of_empty_continuations_stop_at_the_fragment_limit() {
    let limit = Config::default().max_fragments;
    let mut stream = c2s(OP_BINARY, false, b"");
    let empty = c2s(OP_CONT, false, b"");
    for _ in 0..limit {
        stream.extend_from_slice(&empty);
    }
    let mut conn = server(Config::default());
    let fed = feed(&mut conn, &stream);
    assert_eq!(
        fed.error,
        Some(Error::Protocol(ProtocolError::TooManyFragments))
    );
    assert_eq!(
        closes(&parse_frames(&drain_all(&mut conn))),
        vec![Some((1009, vec![]))]
    );
}

#[test]
fn fragmented_message_one_byte_over_the_limit_fails_with_1009() {
    let config = Config::default().max_message_size(1000);
    let at_limit = cat(&[
        &c2s(OP_BINARY, false, &[1; 600]),
        &c2s(OP_CONT, true, &[2; 400]),
    ]);
    let mut conn = server(config.clone());
    let fed = feed(&mut conn, &at_limit);
    assert_eq!((fed.events.len(), fed.error), (1, None));
    let over = cat(&[
        &c2s(OP_BINARY, false, &[1; 600]),
        &c2s(OP_CONT, true, &[2; 401]),
    ]);
    let mut conn = server(config);
    let fed = feed(&mut conn, &over);
    assert_eq!(
        fed.error,
        Some(Error::Protocol(ProtocolError::MessageTooLarge))
    );
}

// ---- peers that do not read ----

#[test]
fn ping_flood_keeps_the_pong_queue_bounded() {
    let mut conn = server(Config::default());
    let ping = c2s(OP_PING, true, &[7; 125]);
    let mut stream = Vec::with_capacity(ping.len() * 100_000);
    for _ in 0..100_000 {
        stream.extend_from_slice(&ping);
    }
    let fed = feed(&mut conn, &stream);
    assert!(fed.error.is_none());
    let pong_size = 2 + 125;
    assert!(conn.transmit_len() <= MAX_QUEUED_PONGS as usize * pong_size);
}

#[test]
fn peer_that_never_reads_gets_a_clear_error_and_bounded_output() {
    let limit = 64 << 10;
    let mut conn = server(Config::default().max_pending_output(limit));
    let mut sent = 0;
    let refused = loop {
        match conn.send_binary(&[0; 1000]) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 1000, "never refused");
    };
    assert_eq!(refused, SendError::OutputFull);
    assert!(conn.transmit_len() <= limit);
    // Draining makes room again.
    let n = conn.transmit().len();
    conn.advance_transmit(n);
    assert!(conn.send_binary(&[0; 1000]).is_ok());
}
