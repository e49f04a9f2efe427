//! Sending shared payloads: `send_*_shared` and `PreparedFrame` put the caller's bytes on the
//! wire without a copy where the frame allows it (a server's large payload), and every role and
//! compression setting still sends what RFC 6455 and RFC 7692 require.

mod common;

use bytes::Bytes;
use common::*;
use wsproto::{
    Config, Connection, DataKind, DeflateParams, PreparedFrame, Role, SendError, Utf8Bytes,
};

const CHAT: &str = "こんにちは、世界！ 👋🏽 Grüße — ça va? 你好 🎉";

fn deflate_pair_side(role: Role) -> Connection {
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    Connection::upgraded_with_deflate(role, config, seed(), T0, DeflateParams::default())
}

/// Whether some slice of the connection's queued output starts at `payload`'s first byte.
fn queued_by_reference(conn: &Connection, payload: &[u8]) -> bool {
    conn.transmit_slices()
        .any(|s| s.as_ptr() == payload.as_ptr() && s.len() == payload.len())
}

#[test]
fn a_servers_large_shared_payload_is_queued_by_reference() {
    let mut server = server(Config::default());
    let data = Bytes::from(vec![0x5a; 64 << 10]);
    server.send_binary_shared(data.clone()).unwrap();
    assert!(queued_by_reference(&server, &data));
    let text = Utf8Bytes::from(CHAT.repeat(200));
    server.send_text_shared(text.clone()).unwrap();
    assert!(queued_by_reference(&server, text.as_bytes()));
    let frames = parse_frames(&drain(&mut server));
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].opcode, frames[0].mask), (0x2, None));
    assert_eq!(frames[0].payload, &data[..]);
    assert_eq!(frames[1].opcode, 0x1);
    assert_eq!(frames[1].payload, &text.as_bytes()[..]);
}

#[test]
fn a_small_shared_payload_is_copied_next_to_the_others() {
    let mut server = server(Config::default());
    server
        .send_text_shared(Utf8Bytes::from_static("a"))
        .unwrap();
    server
        .send_binary_shared(Bytes::from_static(b"bc"))
        .unwrap();
    // One contiguous piece: one plain write.
    assert_eq!(server.transmit().len(), server.transmit_len());
    assert_eq!(server.transmit(), [0x81, 1, b'a', 0x82, 2, b'b', b'c']);
}

#[test]
fn rfc6455_5_3_a_client_masks_a_shared_payload_with_a_fresh_key_per_frame() {
    let mut client = client(Config::default());
    let data = Bytes::from(vec![0x11; 10_000]);
    client.send_binary_shared(data.clone()).unwrap();
    client.send_binary_shared(data.clone()).unwrap();
    assert!(!queued_by_reference(&client, &data));
    let frames = parse_frames(&drain(&mut client));
    assert_eq!(frames.len(), 2);
    assert!(frames[0].mask.is_some() && frames[1].mask.is_some());
    assert_ne!(frames[0].mask, frames[1].mask);
    assert!(frames.iter().all(|f| f.payload == data[..]));
    // The caller's bytes are untouched.
    assert!(data.iter().all(|&b| b == 0x11));
}

#[test]
fn a_prepared_frame_is_the_same_bytes_on_every_server_connection() {
    for size in [0, 5, 125, 126, 4095, 4096, 70_000] {
        let frame = PreparedFrame::binary(vec![0xab; size]);
        let mut room: Vec<Connection> = (0..3).map(|_| server(Config::default())).collect();
        for conn in &mut room {
            conn.send_prepared(&frame).unwrap();
            if size >= 4096 {
                assert!(queued_by_reference(conn, frame.payload()));
            }
        }
        let wires: Vec<Vec<u8>> = room.iter_mut().map(drain).collect();
        assert!(wires.iter().all(|w| *w == wires[0]), "size {size}");
        let frames = parse_frames(&wires[0]);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].fin, frames[0].rsv, frames[0].opcode),
            (true, 0, 2)
        );
        assert_eq!(frames[0].mask, None);
        assert_eq!(frames[0].payload.len(), size);
    }
}

#[test]
fn a_prepared_frame_sent_by_a_client_is_masked() {
    let frame = PreparedFrame::text(CHAT);
    let mut client = client(Config::default());
    client.send_prepared(&frame).unwrap();
    let frames = parse_frames(&drain(&mut client));
    assert!(frames[0].mask.is_some());
    assert_eq!(frames[0].payload, CHAT.as_bytes());
    let mut server = server(Config::default());
    let fed = feed(&mut server, &frame_of_client(CHAT));
    assert_eq!(fed.events, [text(CHAT)]);
}

fn frame_of_client(text: &str) -> Vec<u8> {
    let mut client = client(Config::default());
    client
        .send_prepared(&PreparedFrame::text(text.to_owned()))
        .unwrap();
    drain(&mut client)
}

#[test]
fn rfc7692_a_prepared_frame_is_compressed_per_connection_above_the_threshold() {
    let long = CHAT.repeat(20);
    let big = PreparedFrame::text(long.clone());
    let small = PreparedFrame::text("hi");
    let mut server = deflate_pair_side(Role::Server);
    let mut client = deflate_pair_side(Role::Client);
    for _ in 0..2 {
        server.send_prepared(&big).unwrap();
        server.send_prepared(&small).unwrap();
    }
    let wire = drain(&mut server);
    let frames = parse_frames(&wire);
    // RSV1 marks the compressed ones; the small one goes out as prepared.
    let rsv: Vec<u8> = frames.iter().map(|f| f.rsv).collect();
    assert_eq!(rsv, [0x4, 0, 0x4, 0]);
    assert!(frames[0].payload.len() < long.len());
    assert_eq!(frames[1].payload, b"hi");
    let fed = feed(&mut client, &wire);
    assert_eq!(fed.error, None);
    assert_eq!(
        fed.events,
        [text(&long), text("hi"), text(&long), text("hi")]
    );
}

#[test]
fn a_prepared_frame_respects_the_open_state_and_a_message_in_progress() {
    let frame = PreparedFrame::binary(&b"x"[..]);
    let mut server = server(Config::default());
    server.send_fragment(DataKind::Binary, b"a", false).unwrap();
    assert_eq!(
        server.send_prepared(&frame),
        Err(SendError::MessageInProgress)
    );
    server.send_fragment(DataKind::Binary, b"b", true).unwrap();
    server.close(T0, wsproto::CloseCode::NORMAL, "").unwrap();
    assert_eq!(server.send_prepared(&frame), Err(SendError::NotOpen));
}

#[test]
fn a_prepared_frame_counts_against_the_output_limit() {
    let mut config = Config::default();
    config.max_pending_output = 10_000;
    let mut server = server(config);
    let frame = PreparedFrame::binary(vec![0; 6000]);
    server.send_prepared(&frame).unwrap();
    assert_eq!(server.send_prepared(&frame), Err(SendError::OutputFull));
    assert_eq!(server.transmit_len(), frame.header().len() + 6000);
}
