//! permessage-deflate through the connection: negotiation in both roles, RSV1 rules, compressed
//! sends (whole and fragmented), inflation in both delivery modes, and its limits.
#![cfg(feature = "deflate")]

use wsproto::handshake::Accept;
use wsproto::{
    ClientRequest, CloseCode, Config, Connection, DataKind, DeflateConfig, DeflateParams, Delivery,
    Error, Event, HandshakeError, Instant, ProtocolError, Role, Seed,
};

const NOW: Instant = Instant::ZERO;

#[derive(Debug, PartialEq, Eq)]
enum Got {
    Connected(Vec<String>),
    Request(Vec<String>),
    Message(DataKind, Vec<u8>),
    Chunk(DataKind, Vec<u8>, bool, bool),
    Close(u16),
    Other,
}

/// Feeds `bytes` to `conn` in pieces of `step` bytes, collecting events, stopping at an error.
fn feed(conn: &mut Connection, bytes: &[u8], step: usize) -> (Vec<Got>, Option<Error>) {
    let mut pending = Vec::new();
    let mut got = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        pending.extend_from_slice(piece);
        while !pending.is_empty() {
            let (consumed, event) = match conn.recv(NOW, &mut pending) {
                Ok(r) => (
                    r.consumed,
                    r.event.map(|e| match e {
                        Event::Connected(resp) => {
                            Got::Connected(resp.extensions().map(String::from).collect())
                        }
                        Event::Request(req) => {
                            Got::Request(req.extensions().map(String::from).collect())
                        }
                        Event::Message(m) => Got::Message(m.kind, m.payload.into_vec()),
                        Event::Chunk(c) => Got::Chunk(c.kind, c.data.into_vec(), c.first, c.last),
                        Event::Close(f) => Got::Close(f.code().0),
                        _ => Got::Other,
                    }),
                ),
                Err(e) => return (got, Some(e)),
            };
            pending.drain(..consumed);
            let stop = consumed == 0 && event.is_none();
            got.extend(event);
            if stop {
                break;
            }
        }
    }
    (got, None)
}

fn take_output(conn: &mut Connection) -> Vec<u8> {
    let out: Vec<u8> = conn.transmit_slices().flatten().copied().collect();
    conn.advance_transmit(out.len());
    out
}

/// A client and a server after the opening handshake.
fn pair(client_cfg: Config, server_cfg: Config) -> (Connection, Connection, Vec<String>) {
    let mut client = Connection::client(
        client_cfg,
        ClientRequest::new("example.com", "/"),
        Seed([9; 32]),
        NOW,
    )
    .unwrap();
    let mut server = Connection::server(server_cfg, NOW);
    let request = take_output(&mut client);
    let (got, err) = feed(&mut server, &request, usize::MAX);
    assert!(err.is_none(), "{err:?}");
    assert!(matches!(got[..], [Got::Request(_)]));
    server.accept(NOW, &Accept::new()).unwrap();
    let response = take_output(&mut server);
    let (got, err) = feed(&mut client, &response, usize::MAX);
    assert!(err.is_none(), "{err:?}");
    let [Got::Connected(extensions)] = &got[..] else {
        panic!("{got:?}")
    };
    let extensions = extensions.clone();
    (client, server, extensions)
}

fn deflate_cfg(deflate: DeflateConfig) -> Config {
    Config::default().deflate(deflate)
}

/// The first byte of each frame in an unfragmented stream of server frames (no mask).
fn first_bytes_unmasked(mut wire: &[u8]) -> Vec<u8> {
    let mut firsts = Vec::new();
    while wire.len() >= 2 {
        let (len, at) = match wire[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(wire[2..10].try_into().unwrap())).unwrap(),
                10,
            ),
            n => (usize::from(n), 2),
        };
        firsts.push(wire[0]);
        wire = &wire[at + len..];
    }
    firsts
}

/// An unmasked server frame.
fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    if payload.len() < 126 {
        f.push(payload.len() as u8);
    } else if payload.len() < 65536 {
        f.push(126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

fn text(n: usize) -> String {
    (0..n)
        .map(|i| ["alpha ", "beta ", "gamma ", "{\"id\": 42} "][i % 4])
        .collect()
}

#[test]
fn both_sides_negotiate_and_exchange_compressed_messages() {
    let (mut client, mut server, extensions) = pair(
        deflate_cfg(DeflateConfig::default()),
        deflate_cfg(DeflateConfig::default()),
    );
    // The client offers what browsers do; the server answers with 12-bit windows by default.
    assert_eq!(
        extensions,
        ["permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"]
    );
    let agreed = DeflateParams::new()
        .with_server_max_window_bits(12)
        .with_client_max_window_bits(12);
    assert_eq!(client.deflate_params(), Some(agreed));
    assert_eq!(server.deflate_params(), Some(agreed));

    let long = text(1000);
    // Server to client: above the threshold compressed (RSV1), below it not.
    server.send_text(&long).unwrap();
    server.send_text("short").unwrap();
    server.send_text(&long).unwrap();
    let wire = take_output(&mut server);
    let firsts = first_bytes_unmasked(&wire);
    assert_eq!(firsts, [0xc1, 0x81, 0xc1]);
    assert!(
        wire.len() < long.len() / 4,
        "{} bytes on the wire",
        wire.len()
    );
    for step in [usize::MAX, 1, 7] {
        let (mut client2, mut server2, _) = pair(
            deflate_cfg(DeflateConfig::default()),
            deflate_cfg(DeflateConfig::default()),
        );
        server2.send_text(&long).unwrap();
        server2.send_text("short").unwrap();
        server2.send_text(&long).unwrap();
        let wire2 = take_output(&mut server2);
        let (got, err) = feed(&mut client2, &wire2, step);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            got,
            [
                Got::Message(DataKind::Text, long.clone().into_bytes()),
                Got::Message(DataKind::Text, b"short".to_vec()),
                Got::Message(DataKind::Text, long.clone().into_bytes()),
            ],
            "step {step}"
        );
        let _ = client2.close(NOW, CloseCode::NORMAL, "");
    }
    let (got, _) = feed(&mut client, &wire, usize::MAX);
    assert_eq!(got.len(), 3);

    // Client to server, binary, masked.
    let data: Vec<u8> = long.bytes().rev().collect();
    client.send_binary(&data).unwrap();
    client.send_owned(DataKind::Binary, data.clone()).unwrap();
    let wire = take_output(&mut client);
    let (got, err) = feed(&mut server, &wire, 3);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        got,
        [
            Got::Message(DataKind::Binary, data.clone()),
            Got::Message(DataKind::Binary, data),
        ]
    );
}

#[test]
fn fragments_are_compressed_with_rsv1_on_the_first_only() {
    for delivery in [Delivery::Messages, Delivery::Chunks] {
        let (mut client, mut server, _) = pair(
            deflate_cfg(DeflateConfig::default()).delivery(delivery),
            deflate_cfg(DeflateConfig::default()),
        );
        let long = text(3000);
        let (a, b) = long.split_at(1000);
        server
            .send_fragment(DataKind::Text, a.as_bytes(), false)
            .unwrap();
        server.ping(b"between").unwrap();
        server
            .send_fragment(DataKind::Text, b.as_bytes(), false)
            .unwrap();
        server.send_fragment(DataKind::Text, b"", true).unwrap();
        let wire = take_output(&mut server);
        assert_eq!(first_bytes_unmasked(&wire), [0x41, 0x89, 0x00, 0x80]);
        let (got, err) = feed(&mut client, &wire, 5);
        assert!(err.is_none(), "{err:?}");
        let mut received = Vec::new();
        for g in got {
            match g {
                Got::Message(DataKind::Text, m) => received.extend(m),
                Got::Chunk(DataKind::Text, c, _, _) => received.extend(c),
                Got::Other => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(received, long.as_bytes(), "{delivery:?}");
    }
}

#[test]
fn chunks_of_a_compressed_message_are_bounded() {
    // 8 MiB of zeros in one compressed frame, streamed with no message limit.
    let (mut client, mut server, _) = pair(
        deflate_cfg(DeflateConfig::default())
            .delivery(Delivery::Chunks)
            .max_message_size(u64::MAX),
        deflate_cfg(DeflateConfig::default()).max_frame_size(u64::MAX),
    );
    let zeros = vec![0u8; 8 << 20];
    server.send_binary(&zeros).unwrap();
    let wire = take_output(&mut server);
    assert!(wire.len() < 64 << 10);
    let (got, err) = feed(&mut client, &wire, usize::MAX);
    assert!(err.is_none(), "{err:?}");
    let mut total = 0;
    for g in &got {
        let Got::Chunk(DataKind::Binary, c, _, _) = g else {
            panic!("{g:?}")
        };
        assert!(c.len() <= 4200 * 1032, "chunk of {}", c.len());
        assert!(c.iter().all(|&b| b == 0));
        total += c.len();
    }
    assert_eq!(total, zeros.len());
    assert!(got.len() > 1);
    assert!(matches!(got.last(), Some(Got::Chunk(_, _, _, true))));
    assert!(matches!(got.first(), Some(Got::Chunk(_, _, true, _))));
}

#[test]
fn settings_are_negotiated_and_applied() {
    let (client, server, extensions) = pair(
        deflate_cfg(
            DeflateConfig::default()
                .client_no_context_takeover(true)
                .server_max_window_bits(10),
        ),
        deflate_cfg(DeflateConfig::default().server_no_context_takeover(true)),
    );
    // The server keeps to the client's limit for its own window and, by default, asks the
    // client for 12 bits (the client offered the parameter).
    assert_eq!(
        extensions,
        [
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
          server_max_window_bits=10; client_max_window_bits=12"
        ]
    );
    let want = DeflateParams::new()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .with_server_max_window_bits(10)
        .with_client_max_window_bits(12);
    assert_eq!(client.deflate_params(), Some(want));
    assert_eq!(server.deflate_params(), Some(want));
    // Without context takeover the same message compresses the same every time.
    let (mut client, mut server) = (client, server);
    let long = text(500);
    server.send_text(&long).unwrap();
    let one = take_output(&mut server);
    server.send_text(&long).unwrap();
    let two = take_output(&mut server);
    assert_eq!(one, two);
    let (got, err) = feed(&mut client, &[one, two].concat(), 1);
    assert!(err.is_none());
    assert_eq!(got.len(), 2);
}

#[test]
fn declined_or_not_offered_means_no_compression() {
    for (c, s) in [
        (deflate_cfg(DeflateConfig::default()), Config::default()),
        (Config::default(), deflate_cfg(DeflateConfig::default())),
        (Config::default(), Config::default()),
    ] {
        let offered = c.deflate.is_some();
        let (mut client, mut server, extensions) = pair(c, s);
        assert!(extensions.is_empty());
        assert_eq!(client.deflate_params(), None);
        assert_eq!(server.deflate_params(), None);
        server.send_text(&text(500)).unwrap();
        let wire = take_output(&mut server);
        assert_eq!(first_bytes_unmasked(&wire), [0x81], "offered {offered}");
        // RSV1 is a protocol error when nothing was negotiated.
        let (_, err) = feed(
            &mut client,
            &server_frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
            100,
        );
        assert_eq!(
            err,
            Some(Error::Protocol(ProtocolError::ReservedBitsSet(0b100)))
        );
    }
}

#[test]
fn server_sees_the_offer_in_the_request() {
    let mut client = Connection::client(
        deflate_cfg(DeflateConfig::default().client_max_window_bits(12)),
        ClientRequest::new("example.com", "/"),
        Seed([1; 32]),
        NOW,
    )
    .unwrap();
    let mut server = Connection::server(Config::default(), NOW);
    let (got, _) = feed(&mut server, &take_output(&mut client), usize::MAX);
    assert_eq!(
        got,
        [Got::Request(vec![
            "permessage-deflate; client_max_window_bits=12".into()
        ])]
    );
}

fn client_with_response(deflate: DeflateConfig, extensions: &str) -> Result<Connection, Error> {
    let mut client = Connection::client(
        deflate_cfg(deflate),
        ClientRequest::new("example.com", "/"),
        Seed([2; 32]),
        NOW,
    )
    .unwrap();
    let request = take_output(&mut client);
    // Let a real server compute the accept key, then swap its extensions header.
    let mut server = Connection::server(Config::default(), NOW);
    let _ = feed(&mut server, &request, usize::MAX);
    server.accept(NOW, &Accept::new()).unwrap();
    let response = String::from_utf8(take_output(&mut server)).unwrap();
    let response = response.replace(
        "\r\n\r\n",
        &format!("\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n"),
    );
    let (_, err) = feed(&mut client, response.as_bytes(), usize::MAX);
    match err {
        Some(e) => Err(e),
        None => Ok(client),
    }
}

#[test]
fn client_fails_on_a_response_it_did_not_offer() {
    for (cfg, ext) in [
        (DeflateConfig::default(), "x-webkit-deflate-frame"),
        (DeflateConfig::default(), "permessage-deflate; foo"),
        (
            DeflateConfig::default(),
            "permessage-deflate, permessage-deflate",
        ),
        (
            DeflateConfig::default(),
            "permessage-deflate; server_max_window_bits=16",
        ),
        (
            DeflateConfig::default(),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            DeflateConfig::default().server_max_window_bits(10),
            "permessage-deflate; server_max_window_bits=12",
        ),
        (
            DeflateConfig::default().server_no_context_takeover(true),
            "permessage-deflate",
        ),
    ] {
        let err = client_with_response(cfg, ext).err();
        assert_eq!(
            err,
            Some(Error::Handshake(HandshakeError::UnofferedExtension)),
            "{ext}"
        );
    }
    let client = client_with_response(
        DeflateConfig::default(),
        "permessage-deflate; client_max_window_bits=9",
    )
    .unwrap();
    assert_eq!(
        client.deflate_params().map(|p| p.client_max_window_bits()),
        Some(9)
    );
}

fn compressed_client() -> Connection {
    Connection::upgraded_with_deflate(
        Role::Client,
        Config::default().max_message_size(1 << 20),
        Seed([3; 32]),
        NOW,
        DeflateParams::default(),
    )
}

#[test]
fn rsv1_is_only_for_the_first_frame_of_a_data_message() {
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    // Accepted on a first frame.
    let mut client = compressed_client();
    let (got, err) = feed(&mut client, &server_frame(0xc1, &hello), 100);
    assert_eq!(err, None);
    assert_eq!(got, [Got::Message(DataKind::Text, b"Hello".to_vec())]);
    // On a continuation frame, or a control frame: 1002.
    for wire in [
        [
            server_frame(0x41, &hello[..3]),
            server_frame(0xc0, &hello[3..]),
        ]
        .concat(),
        server_frame(0xc9, b"ping"),
        server_frame(0xc8, &[0x03, 0xe8]),
    ] {
        let mut client = compressed_client();
        let (_, err) = feed(&mut client, &wire, 100);
        assert_eq!(
            err,
            Some(Error::Protocol(ProtocolError::ReservedBitsSet(0b100)))
        );
        let close = take_output(&mut client);
        assert_eq!(&close[..2], [0x88, 0x82]);
    }
    // RSV2 and RSV3 stay reserved.
    let mut client = compressed_client();
    let (_, err) = feed(&mut client, &server_frame(0xe1, &hello), 100);
    assert!(matches!(
        err,
        Some(Error::Protocol(ProtocolError::ReservedBitsSet(_)))
    ));
}

#[test]
fn corrupt_and_invalid_text_fail_with_1007() {
    // Invalid DEFLATE.
    let mut client = compressed_client();
    let (_, err) = feed(&mut client, &server_frame(0xc2, &[0xff, 0xff, 0xff]), 100);
    assert_eq!(err, Some(Error::Protocol(ProtocolError::BadCompression)));
    assert_eq!(err.unwrap().close_code(), Some(CloseCode::INVALID_PAYLOAD));
    // Valid DEFLATE of invalid UTF-8, as text: checked after inflation.
    let mut server = Connection::upgraded_with_deflate(
        Role::Server,
        Config::default(),
        Seed([0; 32]),
        NOW,
        DeflateParams::default(),
    );
    server.send_binary(&[0xff; 200]).unwrap();
    let mut wire = take_output(&mut server);
    wire[0] = (wire[0] & 0xf0) | 0x1;
    let mut client = compressed_client();
    let (_, err) = feed(&mut client, &wire, 100);
    assert_eq!(err, Some(Error::Protocol(ProtocolError::InvalidUtf8)));
}

#[test]
fn a_bomb_is_refused_at_max_message_size_with_bounded_memory() {
    // 64 MiB of zeros compressed by a peer with no limit of its own.
    let mut server = Connection::upgraded_with_deflate(
        Role::Server,
        Config::default()
            .max_frame_size(u64::MAX)
            .max_message_size(u64::MAX),
        Seed([0; 32]),
        NOW,
        DeflateParams::default(),
    );
    let zeros = vec![0u8; 64 << 20];
    server.send_binary(&zeros).unwrap();
    drop(zeros);
    let wire = take_output(&mut server);
    assert!(wire.len() < 128 << 10, "{}", wire.len());
    for delivery in [Delivery::Messages, Delivery::Chunks] {
        let mut client = Connection::upgraded_with_deflate(
            Role::Client,
            Config::default()
                .max_message_size(1 << 20)
                .delivery(delivery),
            Seed([3; 32]),
            NOW,
            DeflateParams::default(),
        );
        let mut pending = wire.clone();
        let mut max_buffered = 0;
        let err = loop {
            match client.recv(NOW, &mut pending) {
                Ok(r) => {
                    let consumed = r.consumed;
                    assert!(consumed > 0 || r.event.is_some());
                    max_buffered = max_buffered.max(client.buffered_capacity());
                    pending.drain(..consumed);
                }
                Err(e) => break e,
            }
        };
        assert_eq!(
            err,
            Error::Protocol(ProtocolError::MessageTooLarge),
            "{delivery:?}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
        assert!(max_buffered <= (1 << 20) + 1 + 64, "{max_buffered}");
    }
    // The compressed size itself is bounded too: a message declaring far more compressed
    // bytes than the limit allows is refused at its header.
    let mut client = compressed_client();
    let mut header = vec![0xc2, 127];
    header.extend_from_slice(&(4u64 << 20).to_be_bytes());
    let (_, err) = feed(&mut client, &header, 100);
    assert_eq!(err, Some(Error::Protocol(ProtocolError::MessageTooLarge)));
}

#[test]
fn exactly_max_message_size_inflated_passes() {
    let limit = 100_000u64;
    let mut server = Connection::upgraded_with_deflate(
        Role::Server,
        Config::default(),
        Seed([0; 32]),
        NOW,
        DeflateParams::default(),
    );
    let msg = text(limit as usize / 6 + 100).into_bytes()[..limit as usize].to_vec();
    server.send_binary(&msg).unwrap();
    server
        .send_binary(&[msg.clone(), vec![b'x']].concat())
        .unwrap();
    let wire = take_output(&mut server);
    let mut client = Connection::upgraded_with_deflate(
        Role::Client,
        Config::default().max_message_size(limit),
        Seed([3; 32]),
        NOW,
        DeflateParams::default(),
    );
    let (got, err) = feed(&mut client, &wire, 1000);
    assert_eq!(got, [Got::Message(DataKind::Binary, msg)]);
    assert_eq!(err, Some(Error::Protocol(ProtocolError::MessageTooLarge)));
}

#[test]
fn upgraded_pair_talks_with_window_bits_8_and_no_context_takeover() {
    let params = DeflateParams::new()
        .with_server_no_context_takeover(true)
        .with_server_max_window_bits(8)
        .with_client_max_window_bits(9);
    let cfg = Config::default().deflate(DeflateConfig::default().compression_threshold(0));
    let mut client =
        Connection::upgraded_with_deflate(Role::Client, cfg.clone(), Seed([4; 32]), NOW, params);
    let mut server =
        Connection::upgraded_with_deflate(Role::Server, cfg, Seed([5; 32]), NOW, params);
    for i in 0..20 {
        let msg = text(i * 97);
        client.send_text(&msg).unwrap();
        let (got, err) = feed(&mut server, &take_output(&mut client), 13);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            got,
            [Got::Message(DataKind::Text, msg.clone().into_bytes())]
        );
        server.send_text(&msg).unwrap();
        let (got, err) = feed(&mut client, &take_output(&mut server), 13);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, [Got::Message(DataKind::Text, msg.into_bytes())]);
    }
}

#[test]
fn room_is_checked_before_compressing() {
    let mut server = Connection::upgraded_with_deflate(
        Role::Server,
        Config::default().max_pending_output(1000),
        Seed([0; 32]),
        NOW,
        DeflateParams::default(),
    );
    let mut client = compressed_client();
    // Too big for the queue even though it would compress well: refused, nothing changed.
    let big = text(2000);
    assert_eq!(server.send_text(&big), Err(wsproto::SendError::OutputFull));
    server.send_text(&text(100)).unwrap();
    let (got, err) = feed(&mut client, &take_output(&mut server), 100);
    assert!(err.is_none());
    assert_eq!(got, [Got::Message(DataKind::Text, text(100).into_bytes())]);
}
