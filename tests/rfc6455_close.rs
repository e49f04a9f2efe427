//! RFC 6455 section 7 (closing the connection) and 5.5 (control frames).

mod common;

use common::*;
use wsproto::{
    CloseCode, Config, Connection, Error, HandshakeError, MAX_QUEUED_PONGS, ProtocolError, Role,
    SendError, State,
};

#[test]
fn rfc5_5_1_client_initiated_close_is_echoed_with_the_same_code() {
    let mut pair = Pair::default_open();
    pair.client
        .close(pair.now, CloseCode::NORMAL, "bye")
        .unwrap();
    assert_eq!(pair.client.state(), State::Closing);
    assert_eq!(
        pair.client.close_sent().map(|c| c.code()),
        Some(CloseCode::NORMAL)
    );
    pair.pump();
    assert_eq!(pair.server.events, [close_ev(1000, "bye")]);
    assert_eq!(pair.client.events, [close_ev(1000, "")]);
    // The echo was queued by the core itself: exactly one close, code 1000, no reason.
    assert_eq!(
        closes(&parse_frames(
            &pair.server.wrote[split_head(&pair.server.wrote).0.len()..]
        )),
        [Some((1000, vec![]))]
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert_eq!(
        (pair.client.error.clone(), pair.server.error.clone()),
        (None, None)
    );
    assert_eq!(
        pair.server.close_received().map(|c| c.code()),
        Some(CloseCode::NORMAL)
    );
    assert_eq!(
        pair.server.close_received().map(|c| c.reason().to_owned()),
        Some("bye".to_owned())
    );
}

#[test]
fn rfc5_5_1_server_initiated_close_is_echoed_with_the_same_code() {
    let mut pair = Pair::default_open();
    pair.server
        .close(pair.now, CloseCode::GOING_AWAY, "restart")
        .unwrap();
    pair.pump();
    assert_eq!(pair.client.events, [close_ev(1001, "restart")]);
    assert_eq!(pair.server.events, [close_ev(1001, "")]);
    let client_frames = parse_frames(&pair.client.wrote[split_head(&pair.client.wrote).0.len()..]);
    assert_eq!(closes(&client_frames), [Some((1001, vec![]))]);
    assert!(
        client_frames.iter().all(|f| f.mask.is_some()),
        "the client's echo is masked"
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
}

#[test]
fn rfc7_1_3_simultaneous_close_sends_one_close_each() {
    let mut pair = Pair::default_open();
    pair.client.close(pair.now, CloseCode::NORMAL, "c").unwrap();
    pair.server
        .close(pair.now, CloseCode::GOING_AWAY, "s")
        .unwrap();
    pair.pump();
    assert_eq!(pair.client.events, [close_ev(1001, "s")]);
    assert_eq!(pair.server.events, [close_ev(1000, "c")]);
    let body = |wrote: &[u8]| parse_frames(&wrote[split_head(wrote).0.len()..]);
    assert_eq!(
        closes(&body(&pair.client.wrote)),
        [Some((1000, b"c".to_vec()))]
    );
    assert_eq!(
        closes(&body(&pair.server.wrote)),
        [Some((1001, b"s".to_vec()))]
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert_eq!(
        (pair.client.error.clone(), pair.server.error.clone()),
        (None, None)
    );
}

/// Feeds a close frame with `payload` to a server; returns the result and what it sent.
fn server_receives_close(payload: &[u8]) -> (Fed, Vec<WireFrame>) {
    let mut server = server(Config::default());
    let fed = feed(&mut server, &c2s(OP_CLOSE, true, payload));
    (fed, sent_frames(&mut server))
}

#[test]
fn rfc7_4_valid_close_codes_are_accepted_and_echoed() {
    let valid = (1000..=1003)
        .chain(1007..=1014)
        .chain([3000, 3999, 4000, 4999]);
    for code in valid {
        for role in [Role::Server, Role::Client] {
            let mut conn = open(role, Config::default());
            let fed = feed(
                &mut conn,
                &to(role, OP_CLOSE, true, &close_payload(code, b"why")),
            );
            assert_eq!(fed.error, None, "{code}");
            assert_eq!(fed.events, [close_ev(code, "why")]);
            assert_eq!(
                closes(&sent_frames(&mut conn)),
                [Some((code, vec![]))],
                "{code}"
            );
        }
    }
}

#[test]
fn rfc7_4_invalid_close_codes_fail_with_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let (fed, sent) = server_receives_close(&close_payload(code, b""));
        assert_eq!(
            fed.error,
            Some(Error::Protocol(ProtocolError::InvalidCloseCode(code))),
            "{code}"
        );
        assert!(fed.events.is_empty());
        assert_eq!(closes(&sent), [Some((1002, vec![]))], "{code}");
    }
}

#[test]
fn rfc5_5_1_one_byte_close_payload_fails_with_1002() {
    let (fed, sent) = server_receives_close(&[0x03]);
    assert_eq!(
        fed.error,
        Some(Error::Protocol(ProtocolError::CloseFrameTooShort))
    );
    assert_eq!(closes(&sent), [Some((1002, vec![]))]);
}

#[test]
fn rfc5_5_1_invalid_utf8_close_reason_fails_with_1007() {
    for reason in [&b"\xff"[..], b"ok\xe2\x82", b"\xed\xa0\x80"] {
        let (fed, sent) = server_receives_close(&close_payload(1000, reason));
        assert_eq!(
            fed.error,
            Some(Error::Protocol(ProtocolError::InvalidUtf8)),
            "{reason:?}"
        );
        assert_eq!(closes(&sent), [Some((1007, vec![]))]);
    }
    // A valid multi-byte reason of the maximum length is fine.
    let reason = "é".repeat(61) + "x";
    assert_eq!(reason.len(), 123);
    let (fed, _) = server_receives_close(&close_payload(1000, reason.as_bytes()));
    assert_eq!(fed.events, [close_ev(1000, &reason)]);
}

#[test]
fn rfc7_1_5_empty_close_is_reported_as_1005_and_echoed_empty() {
    let mut server = server(Config::default());
    let fed = feed(&mut server, &c2s(OP_CLOSE, true, b""));
    assert_eq!(fed.events, [close_ev(1005, "")]);
    assert_eq!(
        server.close_received().map(|c| c.code()),
        Some(CloseCode::NO_STATUS_RECEIVED)
    );
    assert_eq!(drain(&mut server), [0x88, 0x00]);
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn rfc1_4_input_after_the_close_frame_is_discarded() {
    for role in [Role::Server, Role::Client] {
        let close = to(role, OP_CLOSE, true, &close_payload(1000, b""));
        let later = cat(&[
            &to(role, OP_TEXT, true, b"late"),
            &to(role, 0x3, true, b""),
            b"\xff\xff",
        ]);
        let mut conn = open(role, Config::default());
        let mut input = cat(&[&close, &later]);
        let recv = conn.recv(T0, &mut input).unwrap();
        assert_eq!(recv.consumed, close.len());
        assert_eq!(recv.event.map(Ev::of), Some(close_ev(1000, "")));
        // The rest is consumed whole and yields nothing, not even an error.
        let mut rest = later.clone();
        let recv = conn.recv(T0, &mut rest).unwrap();
        assert_eq!((recv.consumed, recv.event.is_none()), (later.len(), true));
        let recv = conn.recv(T0, &mut rest).unwrap();
        assert_eq!((recv.consumed, recv.event.is_none()), (later.len(), true));
        assert_eq!(closes(&sent_frames(&mut conn)), [Some((1000, vec![]))]);
    }
}

#[test]
fn rfc7_1_1_server_closes_the_transport_first_after_flushing() {
    let mut pair = Pair::default_open();
    assert!(!pair.client.wants_transport_close());
    assert!(!pair.server.wants_transport_close());
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    // Move the client's close, but do not flush the server's echo yet.
    let close = drain(&mut pair.client);
    let fed = feed(&mut pair.server, &close);
    assert_eq!(fed.events, [close_ev(1000, "")]);
    assert_eq!(pair.server.state(), State::Closed);
    assert!(
        !pair.server.wants_transport_close(),
        "the echo is still queued"
    );
    let echo = drain(&mut pair.server);
    assert!(pair.server.wants_transport_close());
    // The client got the echo: handshake done, but it waits for the server to close.
    feed(&mut pair.client, &echo);
    assert_eq!(pair.client.state(), State::Closed);
    assert!(!pair.client.wants_transport_close());
    assert_eq!(
        pair.client.poll_timeout(),
        None,
        "no close timeout configured"
    );
    assert_eq!(pair.eof_to_client(), Ok(()));
    assert!(pair.client.wants_transport_close());
}

#[test]
fn rfc7_1_5_recv_eof_in_every_state() {
    // Connecting, both roles.
    let mut server = Connection::server(Config::default(), T0);
    assert_eq!(
        server.recv_eof(T0),
        Err(Error::Handshake(HandshakeError::Eof))
    );
    let (mut client, _, _) = client_awaiting_response(
        Config::default(),
        wsproto::ClientRequest::new("example.com", "/"),
    );
    assert_eq!(
        client.recv_eof(T0),
        Err(Error::Handshake(HandshakeError::Eof))
    );
    assert_eq!(client.state(), State::Closed);
    assert!(client.wants_transport_close());

    // Awaiting accept.
    let mut server = Connection::server(Config::default(), T0);
    let mut head = RFC_REQUEST.as_bytes().to_vec();
    server.recv(T0, &mut head).unwrap();
    assert_eq!(
        server.recv_eof(T0),
        Err(Error::Handshake(HandshakeError::Eof))
    );

    // Open and closing: abnormal closure, reported as 1006.
    for closing in [false, true] {
        for role in [Role::Server, Role::Client] {
            let mut conn = open(role, Config::default());
            if closing {
                conn.close(T0, CloseCode::NORMAL, "").unwrap();
            }
            let err = conn.recv_eof(T0).unwrap_err();
            assert_eq!(err, Error::AbnormalClosure);
            assert_eq!(err.close_code(), Some(CloseCode::ABNORMAL));
            assert_eq!(conn.state(), State::Closed);
            let mut late = to(role, OP_TEXT, true, b"x");
            assert_eq!(conn.recv(T0, &mut late).unwrap_err(), Error::Closed);
        }
    }

    // After the close handshake: a clean end.
    let mut pair = Pair::default_open();
    pair.server.close(pair.now, CloseCode::NORMAL, "").unwrap();
    pair.pump();
    assert_eq!(pair.eof_to_client(), Ok(()));
    assert_eq!(pair.eof_to_server(), Ok(()));

    // After a failure: nothing more to report.
    let mut conn = open(Role::Server, Config::default());
    feed(&mut conn, &s2c(OP_TEXT, true, b"unmasked"));
    assert_eq!(conn.recv_eof(T0), Ok(()));
}

#[test]
fn rfc7_1_2_close_twice_is_a_no_op() {
    let mut conn = client(Config::default());
    conn.close(T0, CloseCode::NORMAL, "first").unwrap();
    let len = conn.transmit_len();
    assert_eq!(conn.close(T0, CloseCode::GOING_AWAY, "second"), Ok(()));
    assert_eq!(conn.transmit_len(), len);
    assert_eq!(
        conn.close_sent().map(|c| c.reason().to_owned()),
        Some("first".to_owned())
    );
    let frames = sent_frames(&mut conn);
    assert_eq!(closes(&frames), [Some((1000, b"first".to_vec()))]);
    // Nor after the peer's close was echoed.
    let mut conn = server(Config::default());
    feed(&mut conn, &c2s(OP_CLOSE, true, &close_payload(1000, b"")));
    let len = conn.transmit_len();
    assert_eq!(conn.close(T0, CloseCode::NORMAL, ""), Ok(()));
    assert_eq!(conn.transmit_len(), len);
    // Invalid arguments are still refused.
    assert_eq!(
        conn.close(T0, CloseCode(1006), ""),
        Err(SendError::InvalidCloseCode(1006))
    );
}

#[test]
fn rfc5_5_2_ping_is_answered_with_a_pong_of_the_same_payload() {
    for role in [Role::Server, Role::Client] {
        for payload in [&b""[..], b"abc", &[0xAB; 125]] {
            let mut conn = open(role, Config::default());
            let fed = feed(&mut conn, &to(role, OP_PING, true, payload));
            assert_eq!(fed.events, [Ev::Ping(payload.to_vec())]);
            let frames = sent_frames(&mut conn);
            assert_eq!(frames.len(), 1);
            assert_eq!((frames[0].fin, frames[0].opcode), (true, OP_PONG));
            assert_eq!(frames[0].payload, payload);
        }
    }
    // The exact bytes from a server.
    let mut conn = server(Config::default());
    feed(&mut conn, &c2s(OP_PING, true, b"abc"));
    assert_eq!(drain(&mut conn), [0x8A, 0x03, b'a', b'b', b'c']);
}

#[test]
fn rfc5_5_3_ping_flood_queues_a_bounded_number_of_pongs() {
    let mut conn = server(Config::default());
    let pings: Vec<u8> = (0..1000u16)
        .flat_map(|i| c2s(OP_PING, true, &i.to_be_bytes()))
        .collect();
    let fed = feed(&mut conn, &pings);
    assert_eq!(fed.error, None);
    assert_eq!(fed.events.len(), 1000, "every ping is reported");
    let queued = sent_frames(&mut conn);
    assert_eq!(queued.len(), MAX_QUEUED_PONGS as usize);
    for (i, pong) in queued.iter().enumerate() {
        assert_eq!(
            (pong.opcode, &pong.payload[..]),
            (OP_PONG, &(i as u16).to_be_bytes()[..])
        );
    }
    // Once the output drained, the newest ping's pong goes out, and only it.
    let held = sent_frames(&mut conn);
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].opcode, &held[0].payload[..]),
        (OP_PONG, &999u16.to_be_bytes()[..])
    );
    assert_eq!(conn.transmit_len(), 0);
    drain(&mut conn);
    assert_eq!(conn.transmit_len(), 0);
}

#[test]
fn rfc5_5_3_unsolicited_pong_is_reported_and_ignored() {
    for role in [Role::Server, Role::Client] {
        let mut conn = open(role, Config::default());
        let fed = feed(&mut conn, &to(role, OP_PONG, true, b"heartbeat"));
        assert_eq!(fed.error, None);
        assert_eq!(fed.events, [Ev::Pong(b"heartbeat".to_vec())]);
        assert_eq!(conn.transmit_len(), 0);
        assert_eq!(conn.state(), State::Open);
    }
}

#[test]
fn rfc5_5_1_data_received_after_our_close_is_still_delivered() {
    // "It is possible for an endpoint to continue receiving data after sending a Close frame."
    let mut conn = server(Config::default());
    conn.close(T0, CloseCode::NORMAL, "").unwrap();
    let input = cat(&[
        &c2s(OP_TEXT, true, b"in flight"),
        &c2s(OP_CLOSE, true, &close_payload(1000, b"")),
    ]);
    let fed = feed(&mut conn, &input);
    assert_eq!(fed.events, [text("in flight"), close_ev(1000, "")]);
    // Only our own close was sent: the peer's close is not echoed a second time.
    assert_eq!(closes(&sent_frames(&mut conn)), [Some((1000, vec![]))]);
    assert!(conn.wants_transport_close());
}

#[test]
fn rfc5_5_1_held_back_pong_is_not_sent_after_our_close_frame() {
    let flood = || -> Vec<u8> {
        (0..MAX_QUEUED_PONGS as u8 + 2)
            .flat_map(|i| c2s(OP_PING, true, &[i]))
            .collect()
    };
    let mut conn = server(Config::default());
    assert!(
        feed(&mut conn, &cat(&[&flood(), &s2c(OP_TEXT, true, b"x")]))
            .error
            .is_some()
    );
    let ops: Vec<u8> = parse_frames(&drain_all(&mut conn))
        .iter()
        .map(|f| f.opcode)
        .collect();
    assert_eq!(ops.last(), Some(&OP_CLOSE), "after failure: {ops:?}");
    let mut conn = server(Config::default());
    feed(&mut conn, &flood());
    conn.close(T0, CloseCode::NORMAL, "").unwrap();
    let ops: Vec<u8> = parse_frames(&drain_all(&mut conn))
        .iter()
        .map(|f| f.opcode)
        .collect();
    assert_eq!(ops.last(), Some(&OP_CLOSE), "after close(): {ops:?}");
}
