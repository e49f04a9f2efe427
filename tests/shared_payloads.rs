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

/// Inflates a server's compressed messages the way a peer with context takeover does: one raw
/// DEFLATE stream for the whole connection, each message's payload followed by `00 00 ff ff`
/// (RFC 7692 section 7.2.2). miniz_oxide, not the crate's own zlib-rs.
fn inflate_stream(payloads: &[&[u8]]) -> Vec<String> {
    use miniz_oxide::inflate::stream::{InflateState, inflate};
    use miniz_oxide::{DataFormat, MZFlush};
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut out = Vec::new();
    for payload in payloads {
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut text = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut rest = &input[..];
        loop {
            let r = inflate(&mut state, rest, &mut buf, MZFlush::Sync);
            assert!(r.status.is_ok(), "inflate failed: {:?}", r.status);
            text.extend_from_slice(&buf[..r.bytes_written]);
            rest = &rest[r.bytes_consumed..];
            if rest.is_empty() && r.bytes_written < buf.len() {
                break;
            }
        }
        out.push(String::from_utf8(text).unwrap());
    }
    out
}

#[test]
fn rfc7692_a_frame_compressed_once_goes_out_as_is_between_the_connections_own_messages() {
    let config = wsproto::DeflateConfig::default();
    let shared_text = format!(
        r#"{{"type":"message","data":{{"text":"{}"}}}}"#,
        CHAT.repeat(4)
    );
    let own_text = format!(
        r#"{{"type":"online","data":{{"names":["{}"]}}}}"#,
        CHAT.repeat(3)
    );
    let frame = PreparedFrame::text(shared_text.clone()).with_compression(&config);
    let compressed = frame.compressed_len().expect("compressed");
    assert!(
        compressed < shared_text.len() / 2,
        "{compressed} of {}",
        shared_text.len()
    );
    // Two connections agreed on 15-bit windows with context takeover: each takes the frame.
    let mut wires = Vec::new();
    for _ in 0..2 {
        let mut server = deflate_pair_side(Role::Server);
        let mut client = deflate_pair_side(Role::Client);
        for _ in 0..3 {
            server.send_text(&own_text).unwrap();
            server.send_prepared(&frame).unwrap();
            server.send_text(&own_text).unwrap();
        }
        let wire = drain(&mut server);
        let frames = parse_frames(&wire);
        assert!(frames.iter().all(|f| f.rsv == 0x4), "all compressed");
        let payloads: Vec<&[u8]> = frames.iter().map(|f| &f.payload[..]).collect();
        // The shared bytes are on the wire unchanged, every time.
        assert!(payloads[1] == payloads[4] && payloads[4] == payloads[7]);
        assert_eq!(payloads[1].len(), compressed);
        // And the stream stays valid for the crate's inflater and for an independent one:
        // the connection's own messages after a shared one refer back only to what follows it.
        let fed = feed(&mut client, &wire);
        assert_eq!(fed.error, None);
        let expected: Vec<&str> = (0..3)
            .flat_map(|_| [&own_text[..], &shared_text, &own_text])
            .collect();
        assert_eq!(
            fed.events,
            expected.iter().map(|t| text(t)).collect::<Vec<_>>()
        );
        assert_eq!(inflate_stream(&payloads), expected);
        wires.push(payloads[1].to_vec());
    }
    assert_eq!(wires[0], wires[1], "the same bytes on every connection");
}

#[test]
fn rfc7692_a_connection_with_a_smaller_window_compresses_the_frame_itself() {
    let config = wsproto::DeflateConfig::default();
    // 1,000 varied characters twice: the second copy is a back reference 1,000 bytes away,
    // within a 12-bit window and beyond a 9-bit one.
    let mut x = 7u32;
    let block: String = (0..1000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + ((x >> 16) % 26) as u8)
        })
        .collect();
    let long = format!("{block}{block}");
    let frame = PreparedFrame::text(long.clone()).with_compression(&config);
    let shared = frame.compressed_len().unwrap();
    // The frame was compressed in the 12-bit window a server answers with; this connection
    // agreed on 9 bits, so the frame's back references might reach too far for its peer.
    let params = DeflateParams::default().with_server_max_window_bits(9);
    let mut c = Config::default();
    c.deflate = Some(config.clone());
    let mut server = Connection::upgraded_with_deflate(Role::Server, c.clone(), seed(), T0, params);
    let mut client = Connection::upgraded_with_deflate(Role::Client, c, seed(), T0, params);
    server.send_prepared(&frame).unwrap();
    let wire = drain(&mut server);
    let frames = parse_frames(&wire);
    assert_eq!(frames[0].rsv, 0x4);
    assert!(
        frames[0].payload.len() > shared + 500,
        "compressed here, in 9 bits: {} vs {shared}",
        frames[0].payload.len()
    );
    let fed = feed(&mut client, &wire);
    assert_eq!((fed.error, fed.events), (None, vec![text(&long)]));
    // Below the threshold nothing is compressed, and the frame goes out as prepared.
    let small = PreparedFrame::text("hi").with_compression(&config);
    assert_eq!(small.compressed_len(), None);
}
