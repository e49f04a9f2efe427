//! `Config::whole_frame_limit`: a single-frame message is left in the caller's input until all
//! of it has arrived, then lent in place, with the same events as the consuming mode; and the
//! adapters' `io::ReadBuffer` grows to hold it only as its bytes arrive.

mod common;

use common::*;
use wsproto::io::{MAX_READ_BUFFER, ReadBuffer};
use wsproto::{Config, Error, Event, Payload, ProtocolError, Role};

const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

fn lending() -> Config {
    Config::default().whole_frame_limit(1 << 20)
}

#[test]
fn a_frame_in_pieces_is_left_in_the_input_and_lent_whole() {
    let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let wire = frame(true, 0, OP_BINARY, Some(KEY), &payload);
    let mut conn = server(lending());
    let mut input = wire[..600].to_vec();
    let recv = conn.recv(T0, &mut input).unwrap();
    assert!(recv.event.is_none());
    // The 4-byte header (2 + 2 length bytes) plus the 4-byte key is consumed; the payload is not.
    assert_eq!(recv.consumed, 8);
    assert_eq!(conn.input_needed(), 1000);
    // As the contract says: the unconsumed bytes go back as they are (they were unmasked in
    // place), with the rest appended.
    let mut input = cat(&[&input[8..], &wire[600..]]);
    let recv = conn.recv(T0, &mut input).unwrap();
    assert_eq!(recv.consumed, 1000);
    assert_eq!(conn.input_needed(), 0);
    match recv.event {
        Some(Event::Message(m)) => match m.payload {
            Payload::Borrowed(bytes) => assert!(bytes == &payload[..], "payload differs"),
            other => panic!("copied: {other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_split_gives_the_same_events_as_the_consuming_mode() {
    let text = "héllo wörld ".repeat(40);
    let stream = cat(&[
        &c2s(OP_TEXT, true, text.as_bytes()),
        &c2s(OP_BINARY, true, &[9; 300]),
        &c2s(OP_PING, true, b"p"),
        &c2s(OP_TEXT, false, b"frag"),
        &c2s(OP_CONT, true, b"mented"),
    ]);
    let whole = feed(&mut server(Config::default()), &stream);
    assert!(whole.error.is_none());
    assert_eq!(whole.events.len(), 4);
    for step in [1, 3, 7, 64, 333] {
        let cuts: Vec<usize> = (step..stream.len()).step_by(step).collect();
        let fed = feed_split(&mut server(lending()), T0, &stream, &cuts);
        assert_eq!(fed.events, whole.events, "reads of {step} bytes");
        assert!(fed.error.is_none() && fed.leftover.is_empty());
    }
}

#[test]
fn invalid_utf8_in_an_awaited_frame_fails_fast_with_1007() {
    // RFC 6455 8.1: fail as soon as the invalid sequence arrives, not when the frame is whole.
    let mut payload = vec![b'a'; 100];
    payload[10] = 0xff;
    let wire = c2s(OP_TEXT, true, &payload);
    let mut conn = server(lending());
    let mut first = wire[..30].to_vec();
    let err = conn.recv(T0, &mut first).unwrap_err();
    assert_eq!(err, Error::Protocol(ProtocolError::InvalidUtf8));
    assert_eq!(closes(&sent_frames(&mut conn)), [Some((1007, Vec::new()))]);
}

#[test]
fn frames_over_the_limit_and_fragments_are_consumed_as_they_arrive() {
    let config = Config::default().whole_frame_limit(100);
    for wire in [
        c2s(OP_BINARY, true, &[1; 101]),
        c2s(OP_BINARY, false, &[1; 50]),
    ] {
        let mut conn = server(config.clone());
        let mut input = wire[..40].to_vec();
        let recv = conn.recv(T0, &mut input).unwrap();
        assert_eq!(recv.consumed, 40);
        assert_eq!(conn.input_needed(), 0);
    }
}

#[test]
fn compressed_and_control_frames_are_not_awaited() {
    let mut conn = server(lending());
    let wire = c2s(OP_PING, true, &[7; 100]);
    let mut input = wire[..50].to_vec();
    assert_eq!(conn.recv(T0, &mut input).unwrap().consumed, 50);
    assert_eq!(conn.input_needed(), 0);
}

#[test]
fn the_read_buffer_grows_with_arrival_not_with_the_declared_length() {
    // A hostile peer declares a 16 MiB frame and sends 1,000 bytes of it.
    let config = Config::default().whole_frame_limit(16 << 20);
    let mut conn = server(config);
    let mut wire = header(true, 0, OP_BINARY, Some(KEY), 16 << 20);
    wire.extend_from_slice(&[0; 1000]);
    let mut buf = ReadBuffer::new();
    let mut sent = &wire[..];
    while !sent.is_empty() {
        let spare = buf.spare(conn.input_needed());
        let n = spare.len().min(sent.len());
        spare[..n].copy_from_slice(&sent[..n]);
        sent = &sent[n..];
        buf.filled_by(n);
        let recv = conn.recv(T0, buf.filled()).unwrap();
        assert!(recv.event.is_none());
        let consumed = recv.consumed;
        buf.consume(consumed);
    }
    assert_eq!(conn.input_needed(), 16 << 20);
    assert!(buf.capacity() <= 8 << 10, "{} bytes", buf.capacity());
}

#[test]
fn the_read_buffer_grows_past_its_usual_maximum_to_lend_a_large_frame() {
    let payload: Vec<u8> = (0..(1u32 << 20)).map(|i| (i * 7) as u8).collect();
    let wire = cat(&[
        &c2s(OP_BINARY, true, &payload),
        &c2s(OP_TEXT, true, b"after"),
    ]);
    let mut conn = server(lending());
    let mut buf = ReadBuffer::new();
    let mut sent = &wire[..];
    let mut got = Vec::new();
    let mut lent = 0;
    let mut peak = 0;
    // Each pass reads at most 64 KiB, like a socket; bounded by the stream's length.
    for _ in 0..wire.len() {
        let recv = conn.recv(T0, buf.filled()).unwrap();
        let consumed = recv.consumed;
        match recv.event {
            Some(Event::Message(m)) => {
                lent += usize::from(matches!(m.payload, Payload::Borrowed(_)));
                got.push(m.payload.into_vec());
            }
            Some(other) => panic!("{other:?}"),
            None if consumed == 0 => {
                if sent.is_empty() {
                    break;
                }
                let spare = buf.spare(conn.input_needed());
                let n = spare.len().min(sent.len()).min(64 << 10);
                spare[..n].copy_from_slice(&sent[..n]);
                sent = &sent[n..];
                buf.filled_by(n);
                peak = peak.max(buf.capacity());
            }
            None => {}
        }
        buf.consume(consumed);
    }
    assert_eq!(got, [payload, b"after".to_vec()]);
    assert_eq!(lent, 2, "both messages were lent from the read buffer");
    assert!(buf.is_empty());
    assert!(peak > MAX_READ_BUFFER, "grew to {peak} bytes");
    // The documented bound: the frame being lent plus 8 KiB.
    assert!(peak <= (1 << 20) + (8 << 10), "grew to {peak} bytes");
}

#[test]
fn an_idle_read_buffer_is_released() {
    let mut buf = ReadBuffer::new();
    let spare = buf.spare(0);
    spare[..3].copy_from_slice(b"abc");
    buf.filled_by(3);
    buf.release_if_empty();
    assert_eq!(buf.filled(), b"abc", "unconsumed bytes are kept");
    buf.consume(3);
    buf.release_if_empty();
    assert_eq!(buf.capacity(), 0);
}

#[test]
fn a_client_lends_unmasked_frames_too() {
    let wire = s2c(OP_BINARY, true, &[5; 2000]);
    let mut conn = open(Role::Client, lending());
    let fed = feed_split(&mut conn, T0, &wire, &[100, 1500]);
    assert_eq!(fed.events, [binary(&[5; 2000])]);
}
