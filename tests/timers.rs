//! Timers on a fake clock: keepalive, pong, close and handshake timeouts.

mod common;

use std::time::Duration;

use common::*;
use wsproto::handshake::Accept;
use wsproto::{ClientRequest, CloseCode, Config, Error, Instant, State, TimeoutKind};

const SECOND: Duration = Duration::from_secs(1);

fn at(secs: u64) -> Instant {
    Instant::from_millis(secs * 1000)
}

fn keepalive(interval: u64, pong: u64) -> Config {
    Config::default().keepalive(Duration::from_secs(interval), Duration::from_secs(pong))
}

#[test]
fn no_timers_configured_means_no_deadline() {
    let mut pair = Pair::connecting(
        Config::default(),
        Config::default(),
        ClientRequest::new("example.com", "/"),
        Accept::new(),
    );
    assert_eq!(
        (pair.client.poll_timeout(), pair.server.poll_timeout()),
        (None, None)
    );
    pair.pump();
    assert_eq!(pair.next_deadline(), None);
    pair.client.send_text("x").unwrap();
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(pair.next_deadline(), None);
    pair.pump();
    assert_eq!(pair.next_deadline(), None);
    assert_eq!(pair.advance_to_next_deadline(), None);
    assert_eq!(pair.now, T0);
}

#[test]
fn keepalive_ping_is_sent_after_an_interval_of_silence_and_answered() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    assert_eq!(pair.client.poll_timeout(), Some(at(10)));
    assert_eq!(pair.server.poll_timeout(), None);
    for round in 1..=3u64 {
        // The interval passes in silence: a ping goes out, and the pong timer is armed.
        assert_eq!(pair.advance_to_next_deadline(), Some(at(10 * round)));
        assert_eq!(pair.client.poll_timeout(), Some(at(10 * round + 5)));
        let frames = parse_frames(
            &pair
                .client
                .transmit_slices()
                .flatten()
                .copied()
                .collect::<Vec<u8>>(),
        );
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].opcode, OP_PING);
        // The server answers at once; the pong disarms the pong timer.
        pair.pump();
        assert_eq!(
            pair.server.take_events(),
            [Ev::Ping(frames[0].payload.clone())]
        );
        assert_eq!(
            pair.client.take_events(),
            [Ev::Pong(frames[0].payload.clone())]
        );
        assert_eq!(pair.client.poll_timeout(), Some(at(10 * round + 10)));
    }
    assert_eq!(
        (pair.client.error.clone(), pair.server.error.clone()),
        (None, None)
    );
    assert_eq!(pair.client.state(), State::Open);
}

#[test]
fn pong_timeout_fails_the_connection_when_the_peer_never_answers() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    assert_eq!(pair.advance_to_next_deadline(), Some(at(10)));
    // The ping is written, but the peer never answers: nothing is fed back.
    let ping = drain(&mut pair.client);
    assert_eq!(parse_frames(&ping)[0].opcode, OP_PING);
    assert_eq!(pair.advance_to_next_deadline(), Some(at(15)));
    assert_eq!(pair.client.error, Some(Error::Timeout(TimeoutKind::Pong)));
    assert_eq!(
        pair.client.error.as_ref().unwrap().close_code(),
        Some(CloseCode::INTERNAL_ERROR)
    );
    assert_eq!(pair.client.state(), State::Closed);
    assert_eq!(pair.client.poll_timeout(), None);
    // RFC 6455 7.1.7: the peer is told why, should it still be there: a close frame 1011.
    assert!(
        !pair.client.wants_transport_close(),
        "the close frame first"
    );
    let frames = parse_frames(&drain(&mut pair.client));
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OP_CLOSE);
    assert_eq!(&frames[0].payload[..2], &1011u16.to_be_bytes());
    assert_eq!(&frames[0].payload[2..], b"keepalive ping timeout");
    assert!(pair.client.wants_transport_close());
}

#[test]
fn any_input_after_a_keepalive_ping_postpones_the_pong_timeout() {
    // Policy: the peer is alive while bytes arrive, even if its pong is queued behind a large
    // frame it is still sending.
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    assert_eq!(pair.advance_to_next_deadline(), Some(at(10)));
    drain(&mut pair.client);
    // At 13 s part of a frame arrives (the header of a 10-byte binary message): no pong yet.
    pair.server.send_binary(&[7; 10]).unwrap();
    let frame = drain(&mut pair.server);
    pair.now = at(13);
    let fed = feed_split(&mut pair.client, pair.now, &frame[..2], &[]);
    assert_eq!((fed.events.len(), fed.error), (0, None));
    assert_eq!(pair.client.poll_timeout(), Some(at(18)));
    pair.now = at(15);
    assert_eq!(pair.client.handle_timeout(pair.now), Ok(()));
    assert_eq!(pair.client.state(), State::Open);
    // Then silence: failed 5 s after the last byte.
    assert_eq!(pair.advance_to_next_deadline(), Some(at(18)));
    assert_eq!(pair.client.error, Some(Error::Timeout(TimeoutKind::Pong)));
}

#[test]
fn a_zero_duration_turns_each_timer_off() {
    let off = Config::default()
        .no_keepalive()
        .close_timeout(Duration::ZERO)
        .handshake_timeout(Duration::ZERO);
    let mut pair = Pair::connecting(
        off.clone(),
        off,
        ClientRequest::new("example.com", "/"),
        Accept::new(),
    );
    assert_eq!(pair.next_deadline(), None);
    pair.pump();
    assert_eq!(pair.next_deadline(), None);
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(pair.next_deadline(), None);
    pair.pump();
    assert_eq!(pair.next_deadline(), None);
}

#[test]
fn received_data_postpones_the_keepalive() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    pair.now = at(7);
    pair.server.send_text("news").unwrap();
    pair.pump();
    assert_eq!(pair.client.take_events(), [text("news")]);
    assert_eq!(pair.client.poll_timeout(), Some(at(17)));
    // An early call at the old deadline sends nothing.
    pair.now = at(10);
    assert_eq!(pair.client.handle_timeout(pair.now), Ok(()));
    assert_eq!(pair.client.transmit_len(), 0);
    assert_eq!(pair.advance_to_next_deadline(), Some(at(17)));
    assert_eq!(parse_frames(&drain(&mut pair.client))[0].opcode, OP_PING);
}

#[test]
fn keepalive_without_pong_timeout_keeps_pinging() {
    let mut config = Config::default();
    config.keepalive_interval = Some(10 * SECOND);
    let mut pair = Pair::new(config, Config::default());
    for round in 1..=3u64 {
        assert_eq!(pair.advance_to_next_deadline(), Some(at(10 * round)));
        // The peer never answers; without a pong timeout nothing fails.
        assert_eq!(parse_frames(&drain(&mut pair.client))[0].opcode, OP_PING);
    }
    assert_eq!(pair.client.error, None);
}

#[test]
fn close_timeout_when_the_peer_never_answers_our_close() {
    let config = Config::default().close_timeout(3 * SECOND);
    for server_closes in [false, true] {
        let mut pair = Pair::new(config.clone(), config.clone());
        let side = if server_closes {
            &mut pair.server
        } else {
            &mut pair.client
        };
        side.close(at(1), CloseCode::NORMAL, "").unwrap();
        assert_eq!(side.poll_timeout(), Some(at(4)));
        // The close is written; no answer ever comes back.
        drain(side);
        assert!(!side.wants_transport_close());
        assert_eq!(pair.advance_to_next_deadline(), Some(at(4)));
        let side = if server_closes {
            &pair.server
        } else {
            &pair.client
        };
        assert_eq!(side.error, Some(Error::Timeout(TimeoutKind::Close)));
        assert_eq!(side.state(), State::Closed);
        assert!(side.wants_transport_close());
    }
}

#[test]
fn client_close_timeout_after_the_close_handshake_closes_the_transport() {
    let config = Config::default().close_timeout(3 * SECOND);
    let mut pair = Pair::new(config.clone(), config);
    pair.now = at(2);
    pair.server.close(pair.now, CloseCode::NORMAL, "").unwrap();
    pair.pump();
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert!(pair.server.wants_transport_close());
    // The server does not close the transport; the client waits, then closes it itself.
    assert!(!pair.client.wants_transport_close());
    assert_eq!(pair.server.poll_timeout(), None);
    assert_eq!(pair.advance_to_next_deadline(), Some(at(5)));
    assert_eq!(
        pair.client.error, None,
        "a done close handshake is not an error"
    );
    assert!(pair.client.wants_transport_close());
    assert_eq!(pair.client.poll_timeout(), None);
    assert_eq!(pair.eof_to_client(), Ok(()));
}

#[test]
fn handshake_timeout_for_a_server_that_never_gets_a_request() {
    let config = Config::default().handshake_timeout(5 * SECOND);
    let mut server = wsproto::Connection::server(config, T0);
    assert_eq!(server.poll_timeout(), Some(at(5)));
    // Half a request does not help.
    let half = &RFC_REQUEST.as_bytes()[..20];
    assert_eq!(feed_split(&mut server, at(1), half, &[]).error, None);
    assert_eq!(server.handle_timeout(at(4)), Ok(()));
    assert_eq!(
        server.handle_timeout(at(5)),
        Err(Error::Timeout(TimeoutKind::Handshake))
    );
    assert_eq!(server.state(), State::Closed);
    assert!(server.wants_transport_close());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn handshake_timeout_for_a_client_that_never_gets_a_response() {
    let config = Config::default().handshake_timeout(5 * SECOND);
    let mut pair = Pair::connecting(
        config.clone(),
        config,
        ClientRequest::new("example.com", "/"),
        Accept::new(),
    );
    // The request is written but never reaches a server.
    drain(&mut pair.client);
    assert_eq!(pair.advance_to_next_deadline(), Some(at(5)));
    assert_eq!(
        pair.client.error,
        Some(Error::Timeout(TimeoutKind::Handshake))
    );
    assert!(pair.client.wants_transport_close());
    // The server, which got nothing either, times out at the same instant.
    assert_eq!(
        pair.server.error,
        Some(Error::Timeout(TimeoutKind::Handshake))
    );
}

#[test]
fn handshake_timer_is_disarmed_once_open() {
    let config = Config::default().handshake_timeout(5 * SECOND);
    let pair = Pair::new(config.clone(), config);
    assert_eq!(pair.next_deadline(), None);
}

#[test]
fn early_and_repeated_handle_timeout_calls_are_harmless() {
    let config = keepalive(10, 5).close_timeout(3 * SECOND);
    let mut pair = Pair::new(config.clone(), config);
    for now in [T0, at(1), at(9), at(9), Instant::from_millis(9999)] {
        assert_eq!(pair.client.handle_timeout(now), Ok(()));
        assert_eq!(pair.server.handle_timeout(now), Ok(()));
    }
    assert_eq!(
        (pair.client.transmit_len(), pair.server.transmit_len()),
        (0, 0)
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Open, State::Open)
    );
    assert_eq!(pair.client.poll_timeout(), Some(at(10)));
    // At the deadline, one ping; calling again at the same instant sends no second one.
    assert_eq!(pair.client.handle_timeout(at(10)), Ok(()));
    let once = pair.client.transmit_len();
    assert!(once > 0);
    assert_eq!(pair.client.handle_timeout(at(10)), Ok(()));
    assert_eq!(pair.client.handle_timeout(at(12)), Ok(()));
    assert_eq!(pair.client.transmit_len(), once);
    // After the connection ended, handle_timeout stays harmless.
    pair.client.recv_eof(at(12)).unwrap_err();
    for now in [at(12), at(100)] {
        assert_eq!(pair.client.handle_timeout(now), Ok(()));
    }
    assert_eq!(pair.client.state(), State::Closed);
}
