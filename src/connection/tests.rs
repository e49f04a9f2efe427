//! Unit tests of the connection as a whole: two connections wired back to back in memory, so
//! that Miri checks the state machine's buffer handling (lent payloads, reassembly, the output
//! queue) along with the unsafe modules it calls. The RFC's cases, one per MUST, are in
//! `tests/`; these cover the paths every message takes, sized to stay quick under Miri.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::{Connection, Role, State};
use crate::close::CloseCode;
use crate::config::{Config, Delivery};
use crate::entropy::Seed;
use crate::error::{Error, ProtocolError, TimeoutKind};
use crate::event::{DataKind, Event, Payload};
use crate::handshake::{Accept, ClientRequest};
use crate::time::Instant;

const NOW: Instant = Instant::ZERO;

/// An event, owned, as the tests compare it.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Request,
    Connected,
    Text(String),
    Binary(Vec<u8>, bool),
    Chunk(Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16),
}

/// Moves everything `from` queued into `to` in reads of at most `read` bytes, the way a run
/// loop does (unconsumed bytes wait for the next read), answering a request with `accept`.
fn pump(from: &mut Connection, to: &mut Connection, read: usize) -> (Vec<Seen>, Option<Error>) {
    let mut wire = Vec::new();
    for slice in from.transmit_slices() {
        wire.extend_from_slice(slice);
    }
    from.advance_transmit(wire.len());
    let mut seen = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for piece in wire.chunks(read.max(1)) {
        pending.extend_from_slice(piece);
        let mut at = 0;
        loop {
            let recv = match to.recv(NOW, &mut pending[at..]) {
                Ok(recv) => recv,
                Err(e) => return (seen, Some(e)),
            };
            at += recv.consumed;
            let Some(event) = recv.event else {
                if recv.consumed == 0 {
                    break;
                }
                continue;
            };
            let mut accept = false;
            seen.push(match event {
                Event::Request(_) => {
                    accept = true;
                    Seen::Request
                }
                Event::Connected(_) => Seen::Connected,
                Event::Message(m) => {
                    let lent = matches!(m.payload, Payload::Borrowed(_));
                    match m.kind {
                        DataKind::Text => {
                            let text = core::str::from_utf8(&m.payload).expect("validated text");
                            Seen::Text(text.into())
                        }
                        _ => Seen::Binary(m.payload.to_vec(), lent),
                    }
                }
                Event::Chunk(c) => Seen::Chunk(c.data.to_vec(), c.last),
                Event::Ping(p) => Seen::Ping(p.as_bytes().to_vec()),
                Event::Pong(p) => Seen::Pong(p.as_bytes().to_vec()),
                Event::Close(f) => Seen::Close(f.code().0),
            });
            if accept {
                to.accept(NOW, &Accept::new()).expect("accept");
            }
        }
        pending.drain(..at);
    }
    (seen, None)
}

/// A client and a server through the opening handshake.
fn open_pair(client: Config, server: Config) -> (Connection, Connection) {
    let request = ClientRequest::new("example.com", "/chat");
    let mut c = Connection::client(client, request, Seed([3; 32]), NOW).expect("client");
    let mut s = Connection::server(server, NOW);
    assert_eq!(pump(&mut c, &mut s, 64), (vec![Seen::Request], None));
    assert_eq!(pump(&mut s, &mut c, 64), (vec![Seen::Connected], None));
    assert_eq!((c.state(), s.state()), (State::Open, State::Open));
    (c, s)
}

#[test]
fn messages_cross_whole_and_split_across_reads() {
    let lending = Config::default().whole_frame_limit(1 << 10);
    let (mut c, mut s) = open_pair(Config::default(), lending);
    c.send_text("héllo, 世界 👋").unwrap();
    c.send_binary(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    // One read: both frames unmasked in place and lent, not copied.
    assert_eq!(
        pump(&mut c, &mut s, 1 << 10),
        (
            vec![
                Seen::Text("héllo, 世界 👋".into()),
                Seen::Binary(vec![1, 2, 3, 4, 5, 6, 7, 8, 9], true)
            ],
            None
        )
    );
    // Three-byte reads: the same message, in pieces, cut inside the header and the emoji.
    s.send_text("héllo, 世界 👋").unwrap();
    assert_eq!(
        pump(&mut s, &mut c, 3),
        (vec![Seen::Text("héllo, 世界 👋".into())], None)
    );
}

#[test]
fn fragments_are_reassembled_and_control_frames_interleave() {
    let (mut c, mut s) = open_pair(Config::default(), Config::default());
    c.send_fragment(DataKind::Binary, &[1; 40], false).unwrap();
    c.ping(b"mid").unwrap();
    c.send_fragment(DataKind::Binary, &[2; 40], true).unwrap();
    let (seen, error) = pump(&mut c, &mut s, 17);
    assert_eq!(error, None);
    let mut whole = vec![1; 40];
    whole.extend([2; 40]);
    assert_eq!(
        seen,
        [Seen::Ping(b"mid".to_vec()), Seen::Binary(whole, false)]
    );
    // The server answered the ping by itself.
    assert_eq!(
        pump(&mut s, &mut c, 64),
        (vec![Seen::Pong(b"mid".to_vec())], None)
    );
}

#[test]
fn chunks_are_delivered_as_they_arrive() {
    let chunks = Config::default().delivery(Delivery::Chunks);
    let (mut c, mut s) = open_pair(Config::default(), chunks);
    c.send_binary(&[9; 100]).unwrap();
    let (seen, error) = pump(&mut c, &mut s, 30);
    assert_eq!(error, None);
    let mut data = Vec::new();
    for event in &seen {
        let Seen::Chunk(bytes, _) = event else {
            panic!("{event:?}")
        };
        data.extend_from_slice(bytes);
    }
    assert_eq!(data, [9; 100]);
    assert!(matches!(seen.last(), Some(Seen::Chunk(_, true))));
}

#[test]
fn the_close_handshake_ends_both_sides() {
    let (mut c, mut s) = open_pair(Config::default(), Config::default());
    c.close(NOW, CloseCode::GOING_AWAY, "bye").unwrap();
    assert_eq!(c.state(), State::Closing);
    assert_eq!(pump(&mut c, &mut s, 64), (vec![Seen::Close(1001)], None));
    // The server echoed the code; it closes the transport first (RFC 6455 7.1.1).
    assert_eq!(pump(&mut s, &mut c, 64), (vec![Seen::Close(1001)], None));
    assert!(s.wants_transport_close());
    assert!(!c.wants_transport_close());
    c.recv_eof(NOW).unwrap();
    assert_eq!((c.state(), s.state()), (State::Closed, State::Closed));
}

#[test]
fn an_unmasked_client_frame_fails_with_1002() {
    let (_c, mut s) = open_pair(Config::default(), Config::default());
    let mut frame = [0x81, 0x02, b'h', b'i'];
    assert_eq!(
        s.recv(NOW, &mut frame).unwrap_err(),
        Error::Protocol(ProtocolError::WrongMasking)
    );
    assert_eq!(
        s.close_sent().map(|f| f.code()),
        Some(CloseCode::PROTOCOL_ERROR)
    );
}

#[test]
fn a_message_over_the_limit_fails_with_1009() {
    let (mut c, mut s) = open_pair(Config::default(), Config::default().max_message_size(64));
    c.send_fragment(DataKind::Text, &[b'a'; 40], false).unwrap();
    c.send_fragment(DataKind::Text, &[b'a'; 40], true).unwrap();
    let (_, error) = pump(&mut c, &mut s, 64);
    assert_eq!(
        error.and_then(|e| e.close_code()),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
    assert_eq!(
        s.close_sent().map(|f| f.code()),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
}

#[test]
fn an_unanswered_keepalive_ping_closes_with_1011() {
    let keepalive = Config::default().keepalive(Duration::from_secs(1), Duration::from_secs(1));
    let (_c, mut s) = open_pair(Config::default(), keepalive);
    s.handle_timeout(Instant::from_millis(1_000)).unwrap();
    assert_eq!(s.transmit().first(), Some(&0x89));
    let sent = s.transmit_len();
    s.advance_transmit(sent);
    assert_eq!(
        s.handle_timeout(Instant::from_millis(2_000)),
        Err(Error::Timeout(TimeoutKind::Pong))
    );
    assert_eq!(
        s.close_sent().map(|f| f.code()),
        Some(CloseCode::INTERNAL_ERROR)
    );
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_messages_cross_both_ways() {
    let deflate = Config::default().deflate(crate::deflate::DeflateConfig::default());
    let (mut c, mut s) = open_pair(deflate.clone(), deflate);
    assert!(c.deflate_params().is_some());
    let text = "{\"type\":\"message\",\"data\":\"こんにちは、世界 🌏 こんにちは、世界 🌏\"}";
    for _ in 0..3 {
        c.send_text(text).unwrap();
        assert_eq!(
            pump(&mut c, &mut s, 16),
            (vec![Seen::Text(text.into())], None)
        );
        s.send_text(text).unwrap();
        assert_eq!(
            pump(&mut s, &mut c, 16),
            (vec![Seen::Text(text.into())], None)
        );
    }
}

#[cfg(feature = "deflate")]
#[test]
fn a_frame_compressed_once_and_the_connections_own_messages_interleave() {
    let config = crate::deflate::DeflateConfig::default();
    let deflate = Config::default().deflate(config.clone());
    let (mut c, mut s) = open_pair(deflate.clone(), deflate);
    let shared = "{\"type\":\"message\",\"data\":\"共享的消息 🌏 共享的消息 🌏 共享的消息 🌏\"}";
    let own = "{\"type\":\"online\",\"data\":[\"アリス\",\"ボブ\",\"アリス\",\"ボブ\"]}";
    let frame = crate::PreparedFrame::text(shared).with_compression(&config);
    assert!(s.takes_shared_deflate(12));
    for _ in 0..2 {
        s.send_text(own).unwrap();
        s.send_prepared(&frame).unwrap();
        s.send_text(own).unwrap();
        let expected = vec![
            Seen::Text(own.into()),
            Seen::Text(shared.into()),
            Seen::Text(own.into()),
        ];
        assert_eq!(pump(&mut s, &mut c, 16), (expected, None));
    }
}

#[test]
fn roles_are_reported() {
    let (c, s) = open_pair(Config::default(), Config::default());
    assert_eq!((c.role(), s.role()), (Role::Client, Role::Server));
}
