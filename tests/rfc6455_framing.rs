//! RFC 6455 section 5: framing, masking, fragmentation, UTF-8 and limits.

mod common;

use common::*;
use wsproto::{
    CloseCode, Config, DataKind, Delivery, Error, Event, Payload, ProtocolError, Role, SendError,
    State,
};

const ROLES: [Role; 2] = [Role::Server, Role::Client];

/// Feeds `input` to a fresh open connection of `role`; expects it to fail with `expected` and
/// to have queued exactly one close frame with `code` as its last output.
fn assert_fails(role: Role, config: Config, input: &[u8], expected: ProtocolError, code: u16) {
    let mut conn = open(role, config);
    let fed = feed(&mut conn, input);
    assert_eq!(
        fed.error,
        Some(Error::Protocol(expected.clone())),
        "{role:?}: events {:?}",
        fed.events
    );
    assert_eq!(expected.close_code().0, code);
    assert_eq!(conn.state(), State::Closed);
    let frames = sent_frames(&mut conn);
    assert_eq!(
        closes(&frames),
        [Some((code, Vec::new()))],
        "{role:?}: {frames:?}"
    );
    assert_eq!(
        frames.last().map(|f| f.opcode),
        Some(OP_CLOSE),
        "the close frame is the last thing sent"
    );
    assert_eq!(
        frames.last().unwrap().mask.is_some(),
        role == Role::Client,
        "only a client masks its close frame"
    );
    assert!(conn.wants_transport_close());
}

#[test]
fn rfc5_2_every_opcode_is_received() {
    for role in ROLES {
        let cases: Vec<(Vec<u8>, Vec<Ev>)> = vec![
            (to(role, OP_TEXT, true, b"hi"), vec![text("hi")]),
            (
                to(role, OP_BINARY, true, b"\x00\xff"),
                vec![binary(b"\x00\xff")],
            ),
            (
                cat(&[
                    &to(role, OP_TEXT, false, b"a"),
                    &to(role, OP_CONT, true, b"b"),
                ]),
                vec![text("ab")],
            ),
            (to(role, OP_PING, true, b"p"), vec![Ev::Ping(b"p".to_vec())]),
            (to(role, OP_PONG, true, b"q"), vec![Ev::Pong(b"q".to_vec())]),
            (
                to(role, OP_CLOSE, true, &close_payload(1000, b"bye")),
                vec![close_ev(1000, "bye")],
            ),
        ];
        for (input, expected) in cases {
            let mut conn = open(role, Config::default());
            let fed = feed(&mut conn, &input);
            assert_eq!(fed.error, None, "{role:?}");
            assert_eq!(fed.events, expected, "{role:?}");
        }
    }
}

#[test]
fn rfc5_2_7_16_and_64_bit_payload_lengths_are_received() {
    for role in ROLES {
        for (len, header_len) in [
            (0usize, 2usize),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (70000, 10),
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let input = to(role, OP_BINARY, true, &payload);
            let mask_len = if role == Role::Server { 4 } else { 0 };
            assert_eq!(input.len(), header_len + mask_len + len);
            let mut conn = open(role, Config::default());
            // Whole and split inside the extended length.
            for cuts in [vec![], vec![1, 3, 5]] {
                let fed = feed_split(&mut conn, T0, &input, &cuts);
                assert_eq!(fed.error, None);
                assert_eq!(fed.events, [binary(&payload)], "{role:?} len {len}");
            }
        }
    }
}

#[test]
fn rfc5_1_server_must_fail_on_unmasked_frame() {
    assert_fails(
        Role::Server,
        Config::default(),
        &s2c(OP_TEXT, true, b"hi"),
        ProtocolError::WrongMasking,
        1002,
    );
    // The exact bytes: an unmasked close with code 1002 and no reason.
    let mut server = server(Config::default());
    feed(&mut server, &s2c(OP_PING, true, b""));
    assert_eq!(drain(&mut server), [0x88, 0x02, 0x03, 0xEA]);
}

#[test]
fn rfc5_1_client_must_fail_on_masked_frame() {
    assert_fails(
        Role::Client,
        Config::default(),
        &c2s(OP_TEXT, true, b"hi"),
        ProtocolError::WrongMasking,
        1002,
    );
    let mut client = client(Config::default());
    feed(&mut client, &c2s(OP_PING, true, b""));
    let out = drain(&mut client);
    assert_eq!(&out[..2], [0x88, 0x82], "masked close, 2-byte payload");
    let key = &out[2..6];
    assert_eq!(out[6] ^ key[0], 0x03);
    assert_eq!(out[7] ^ key[1], 0xEA);
    assert_eq!(out.len(), 8);
}

#[test]
fn rfc5_2_rsv_bits_without_extension_fail_with_1002() {
    for role in ROLES {
        for rsv in 1..=7u8 {
            let mask = (role == Role::Server).then_some(KEY);
            assert_fails(
                role,
                Config::default(),
                &frame(true, rsv, OP_TEXT, mask, b"x"),
                ProtocolError::ReservedBitsSet(rsv),
                1002,
            );
        }
    }
}

#[test]
fn rfc5_2_reserved_opcodes_fail_with_1002() {
    for role in ROLES {
        for op in [0x3u8, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let mask = (role == Role::Server).then_some(KEY);
            assert_fails(
                role,
                Config::default(),
                &frame(true, 0, op, mask, b""),
                ProtocolError::UnknownOpcode(op),
                1002,
            );
        }
    }
}

#[test]
fn rfc5_5_fragmented_control_frame_fails_with_1002() {
    for role in ROLES {
        for op in [OP_CLOSE, OP_PING, OP_PONG] {
            assert_fails(
                role,
                Config::default(),
                &to(role, op, false, b""),
                ProtocolError::FragmentedControlFrame,
                1002,
            );
        }
    }
}

#[test]
fn rfc5_5_control_frame_over_125_bytes_fails_with_1002() {
    for role in ROLES {
        for op in [OP_CLOSE, OP_PING, OP_PONG] {
            assert_fails(
                role,
                Config::default(),
                &to(role, op, true, &[b'a'; 126]),
                ProtocolError::ControlFrameTooLong,
                1002,
            );
        }
        // 125 bytes is allowed.
        let mut conn = open(role, Config::default());
        let fed = feed(&mut conn, &to(role, OP_PING, true, &[b'a'; 125]));
        assert_eq!(fed.events, [Ev::Ping(vec![b'a'; 125])]);
        // The failure comes from the header alone.
        let mut conn = open(role, Config::default());
        let fed = feed(&mut conn, &to(role, OP_PING, true, &[b'a'; 126])[..2]);
        assert_eq!(
            fed.error,
            Some(Error::Protocol(ProtocolError::ControlFrameTooLong))
        );
    }
}

#[test]
fn rfc5_2_64_bit_length_with_most_significant_bit_set_fails_with_1002() {
    for role in ROLES {
        let mut input = vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1];
        if role == Role::Server {
            input[1] |= 0x80;
            input.extend_from_slice(&KEY);
        }
        assert_fails(
            role,
            Config::default(),
            &input,
            ProtocolError::InvalidLength,
            1002,
        );
        // Detected as soon as the first length byte arrives.
        let mut conn = open(role, Config::default());
        let fed = feed(&mut conn, &input[..3]);
        assert_eq!(
            fed.error,
            Some(Error::Protocol(ProtocolError::InvalidLength))
        );
    }
}

#[test]
fn rfc5_4_continuation_without_a_message_fails_with_1002() {
    for role in ROLES {
        assert_fails(
            role,
            Config::default(),
            &to(role, OP_CONT, true, b"x"),
            ProtocolError::UnexpectedContinuation,
            1002,
        );
        // Also right after a complete message.
        let input = cat(&[
            &to(role, OP_TEXT, true, b"a"),
            &to(role, OP_CONT, true, b"b"),
        ]);
        assert_fails(
            role,
            Config::default(),
            &input,
            ProtocolError::UnexpectedContinuation,
            1002,
        );
    }
}

#[test]
fn rfc5_4_new_data_frame_inside_a_fragmented_message_fails_with_1002() {
    for role in ROLES {
        for (first, second) in [
            (OP_TEXT, OP_TEXT),
            (OP_TEXT, OP_BINARY),
            (OP_BINARY, OP_TEXT),
        ] {
            let input = cat(&[&to(role, first, false, b"a"), &to(role, second, true, b"b")]);
            assert_fails(
                role,
                Config::default(),
                &input,
                ProtocolError::ExpectedContinuation,
                1002,
            );
        }
    }
}

#[test]
fn rfc5_4_control_frames_inside_a_fragmented_message_are_delivered_in_order() {
    for role in ROLES {
        let input = cat(&[
            &to(role, OP_TEXT, false, b"a"),
            &to(role, OP_PING, true, b"p"),
            &to(role, OP_CONT, false, b"b"),
            &to(role, OP_PONG, true, b"q"),
            &to(role, OP_CONT, true, b"c"),
        ]);
        let mut conn = open(role, Config::default());
        let fed = feed(&mut conn, &input);
        assert_eq!(fed.error, None);
        assert_eq!(
            fed.events,
            [
                Ev::Ping(b"p".to_vec()),
                Ev::Pong(b"q".to_vec()),
                text("abc")
            ]
        );
        // The ping is answered while the message is still arriving.
        let frames = sent_frames(&mut conn);
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].opcode, &frames[0].payload[..]),
            (OP_PONG, &b"p"[..])
        );

        let mut conn = open(role, Config::default().delivery(Delivery::Chunks));
        let fed = feed(&mut conn, &input);
        let chunk = |data: &[u8], first, last| Ev::Chunk {
            kind: DataKind::Text,
            data: data.to_vec(),
            first,
            last,
        };
        assert_eq!(
            fed.events,
            [
                chunk(b"a", true, false),
                Ev::Ping(b"p".to_vec()),
                chunk(b"b", false, false),
                Ev::Pong(b"q".to_vec()),
                chunk(b"c", false, true),
            ]
        );
    }
}

#[test]
fn rfc8_1_invalid_utf8_text_fails_with_1007() {
    let cases: &[&[u8]] = &[
        b"\xff",
        b"ok\xc0\xaf",         // overlong
        b"\xed\xa0\x80",       // surrogate
        b"\xf4\x90\x80\x80",   // above U+10FFFF
        b"truncated \xe2\x82", // message ends inside a character
    ];
    for role in ROLES {
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            for payload in cases {
                assert_fails(
                    role,
                    Config::default().delivery(delivery),
                    &to(role, OP_TEXT, true, payload),
                    ProtocolError::InvalidUtf8,
                    1007,
                );
            }
            // Across fragments: valid first fragment, invalid continuation.
            let input = cat(&[
                &to(role, OP_TEXT, false, b"ok"),
                &to(role, OP_CONT, true, b"\xff"),
            ]);
            assert_fails(
                role,
                Config::default().delivery(delivery),
                &input,
                ProtocolError::InvalidUtf8,
                1007,
            );
        }
    }
}

#[test]
fn rfc8_1_invalid_utf8_fails_fast_inside_a_frame_still_arriving() {
    for role in ROLES {
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            // A text frame declaring 100 bytes; only its first 7 arrive, ending in F4 90 which no
            // valid text can continue.
            let mut payload = b"hello".to_vec();
            payload.extend_from_slice(b"\xf4\x90");
            payload.resize(100, b'a');
            let input = to(role, OP_TEXT, true, &payload);
            let header_len = input.len() - 100;
            let mut conn = open(role, Config::default().delivery(delivery));
            let fed = feed(&mut conn, &input[..header_len + 7]);
            assert_eq!(
                fed.error,
                Some(Error::Protocol(ProtocolError::InvalidUtf8)),
                "{role:?} {delivery:?}"
            );
            assert_eq!(closes(&sent_frames(&mut conn)), [Some((1007, vec![]))]);
            // Six bytes (hello + F4) are still a valid prefix: no failure yet.
            let mut conn = open(role, Config::default().delivery(delivery));
            let fed = feed(&mut conn, &input[..header_len + 6]);
            assert_eq!(fed.error, None);
        }
    }
}

#[test]
fn rfc5_6_text_split_mid_character_across_frames_is_accepted() {
    for role in ROLES {
        let euro = "€".as_bytes(); // E2 82 AC
        let input = cat(&[
            &to(role, OP_TEXT, false, &[b'x', euro[0]]),
            &to(role, OP_CONT, false, &euro[1..2]),
            &to(role, OP_CONT, true, &euro[2..]),
        ]);
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            let mut conn = open(role, Config::default().delivery(delivery));
            let fed = feed_bytewise(&mut conn, &input);
            assert_eq!(fed.error, None, "{role:?} {delivery:?}");
            assert_eq!(chunks_to_messages(&fed.events), [text("x€")]);
        }
    }
}

#[test]
fn max_frame_size_fails_with_1009_on_the_header() {
    for role in ROLES {
        let config = Config::default().max_frame_size(10);
        // Exactly at the limit passes.
        let mut conn = open(role, config.clone());
        let fed = feed(&mut conn, &to(role, OP_BINARY, true, &[1; 10]));
        assert_eq!(fed.events, [binary(&[1; 10])]);
        // One byte over fails as soon as the header is in.
        let input = to(role, OP_BINARY, true, &[1; 11]);
        let header_len = input.len() - 11;
        assert_fails(
            role,
            config.clone(),
            &input[..header_len],
            ProtocolError::FrameTooLarge,
            1009,
        );
        // Also for a continuation.
        let input = cat(&[
            &to(role, OP_BINARY, false, &[1; 10]),
            &to(role, OP_CONT, true, &[1; 11]),
        ]);
        assert_fails(role, config, &input, ProtocolError::FrameTooLarge, 1009);
    }
}

#[test]
fn max_message_size_fails_with_1009_before_any_payload() {
    for role in ROLES {
        for delivery in [Delivery::Messages, Delivery::Chunks] {
            let config = Config::default().max_message_size(10).delivery(delivery);
            // Exactly at the limit passes, whole or fragmented.
            let mut conn = open(role, config.clone());
            let fed = feed(&mut conn, &to(role, OP_TEXT, true, b"0123456789"));
            assert_eq!(chunks_to_messages(&fed.events), [text("0123456789")]);
            let fragmented = cat(&[
                &to(role, OP_TEXT, false, b"012345"),
                &to(role, OP_CONT, true, b"6789"),
            ]);
            let fed = feed(&mut conn, &fragmented);
            assert_eq!(chunks_to_messages(&fed.events), [text("0123456789")]);
            // One byte over, declared in a single header: fails with only the header fed.
            let input = to(role, OP_TEXT, true, b"0123456789a");
            let header_len = input.len() - 11;
            assert_fails(
                role,
                config.clone(),
                &input[..header_len],
                ProtocolError::MessageTooLarge,
                1009,
            );
            // One byte over across fragments: fails at the continuation's header.
            let first = to(role, OP_TEXT, false, b"012345");
            let cont = to(role, OP_CONT, true, b"6789a");
            let input = cat(&[&first, &cont[..cont.len() - 5]]);
            assert_fails(role, config, &input, ProtocolError::MessageTooLarge, 1009);
        }
    }
}

#[test]
fn max_fragments_fails_with_1009() {
    for role in ROLES {
        let config = Config::default().max_fragments(3);
        let three = cat(&[
            &to(role, OP_BINARY, false, b"a"),
            &to(role, OP_CONT, false, b""),
            &to(role, OP_CONT, true, b"c"),
        ]);
        let mut conn = open(role, config.clone());
        let fed = feed(&mut conn, &three);
        assert_eq!(fed.events, [binary(b"ac")]);
        let four = cat(&[
            &to(role, OP_BINARY, false, b"a"),
            &to(role, OP_CONT, false, b""),
            &to(role, OP_CONT, false, b""),
            &to(role, OP_CONT, true, b"c"),
        ]);
        assert_fails(role, config, &four, ProtocolError::TooManyFragments, 1009);
    }
}

#[test]
fn chunks_delivery_marks_first_and_last_and_lends_the_input() {
    let mut server = server(Config::default().delivery(Delivery::Chunks));
    let mut input = c2s(OP_TEXT, true, b"hello world");
    let header_len = input.len() - 11;
    let (head, rest) = input.split_at_mut(header_len + 5);
    let recv = server.recv(T0, head).unwrap();
    assert_eq!(recv.consumed, header_len + 5);
    let Some(Event::Chunk(chunk)) = recv.event else {
        panic!("{:?}", recv.event)
    };
    assert_eq!(
        (chunk.kind, chunk.first, chunk.last),
        (DataKind::Text, true, false)
    );
    assert_eq!(chunk.data, Payload::Borrowed(b"hello"));
    let recv = server.recv(T0, rest).unwrap();
    let Some(Event::Chunk(chunk)) = recv.event else {
        panic!("{:?}", recv.event)
    };
    assert_eq!((chunk.first, chunk.last), (false, true));
    assert_eq!(chunk.data, Payload::Borrowed(b" world"));
    // The borrowed bytes are the caller's buffer, unmasked in place.
    assert_eq!(rest, b" world");

    // A fragmented message: first on the first frame's chunk, last on the final frame's.
    let input = cat(&[&c2s(OP_BINARY, false, b"ab"), &c2s(OP_CONT, true, b"cd")]);
    let fed = feed(&mut server, &input);
    assert_eq!(
        fed.events,
        [
            Ev::Chunk {
                kind: DataKind::Binary,
                data: b"ab".to_vec(),
                first: true,
                last: false
            },
            Ev::Chunk {
                kind: DataKind::Binary,
                data: b"cd".to_vec(),
                first: false,
                last: true
            },
        ]
    );
    // An empty message is one chunk that is both first and last.
    let fed = feed(&mut server, &c2s(OP_TEXT, true, b""));
    assert_eq!(
        fed.events,
        [Ev::Chunk {
            kind: DataKind::Text,
            data: vec![],
            first: true,
            last: true
        }]
    );
}

#[test]
fn messages_delivery_lends_single_frames_and_owns_reassembled_ones() {
    let mut server = server(Config::default());
    // Whole frame in one read: borrowed from the input.
    let mut input = c2s(OP_BINARY, true, b"whole");
    let recv = server.recv(T0, &mut input).unwrap();
    let Some(Event::Message(msg)) = recv.event else {
        panic!("{:?}", recv.event)
    };
    assert_eq!(msg.kind, DataKind::Binary);
    assert_eq!(msg.payload, Payload::Borrowed(b"whole"));

    // Fragmented: owned.
    let mut input = cat(&[&c2s(OP_TEXT, false, b"frag"), &c2s(OP_CONT, true, b"ment")]);
    let recv = server.recv(T0, &mut input).unwrap();
    let Some(Event::Message(msg)) = recv.event else {
        panic!("{:?}", recv.event)
    };
    assert!(
        matches!(msg.payload, Payload::Owned(_)),
        "{:?}",
        msg.payload
    );
    assert_eq!(msg.as_text(), Some("fragment"));

    // A single frame split over two reads: owned too, nothing before it is complete.
    let mut input = c2s(OP_TEXT, true, b"split");
    let (a, b) = input.split_at_mut(8);
    let recv = server.recv(T0, a).unwrap();
    assert_eq!((recv.consumed, recv.event.is_none()), (8, true));
    let recv = server.recv(T0, b).unwrap();
    let Some(Event::Message(msg)) = recv.event else {
        panic!("{:?}", recv.event)
    };
    assert!(matches!(msg.payload, Payload::Owned(_)));
    assert_eq!(msg.as_text(), Some("split"));
}

#[test]
fn rfc5_2_sender_uses_the_minimal_length_encoding() {
    for role in ROLES {
        for (len, b1, header_len) in [
            (0usize, 0u8, 2usize),
            (125, 125, 2),
            (126, 126, 4),
            (65535, 126, 4),
            (65536, 127, 10),
        ] {
            let mut conn = open(role, Config::default());
            let payload = vec![0x5A; len];
            conn.send_binary(&payload).unwrap();
            let out = drain(&mut conn);
            let mask_len = if role == Role::Client { 4 } else { 0 };
            assert_eq!(out[0], 0x82);
            assert_eq!(out[1] & 0x7F, b1, "{role:?} len {len}");
            let frames = parse_frames(&out);
            assert_eq!(frames.len(), 1);
            assert_eq!(frames[0].header_len, header_len + mask_len);
            assert_eq!(frames[0].payload, payload);
        }
    }
}

#[test]
fn rfc5_3_client_masks_every_frame_with_a_fresh_key() {
    let mut client = client(Config::default());
    client.send_text("same").unwrap();
    client.send_text("same").unwrap();
    client.send_binary(&[0; 64]).unwrap();
    client.send_owned(DataKind::Binary, vec![0; 5000]).unwrap();
    client.send_fragment(DataKind::Text, b"a", false).unwrap();
    client.send_fragment(DataKind::Text, b"b", true).unwrap();
    client.ping(b"p").unwrap();
    client.pong(b"q").unwrap();
    client.close(T0, CloseCode::NORMAL, "").unwrap();
    let out = drain(&mut client);
    let frames = parse_frames(&out);
    assert_eq!(frames.len(), 9);
    let keys: Vec<[u8; 4]> = frames
        .iter()
        .map(|f| f.mask.expect("client frames are masked"))
        .collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b, "masking keys repeat: {keys:?}");
        }
    }
    // The same text masked with different keys differs on the wire.
    assert_eq!(frames[0].payload, frames[1].payload);
    assert_ne!(out[6..10], out[16..20]);
    // All-zero payloads show the key itself on the wire, so it really was applied.
    assert!(frames[2].payload.iter().all(|&b| b == 0));
    assert_eq!(&out[26..30], &keys[2]);
    assert!(
        frames[3].payload.iter().all(|&b| b == 0),
        "owned payloads are masked in place"
    );
}

#[test]
fn rfc5_3_large_frames_keep_their_order_among_small_ones_and_are_masked() {
    // Large borrowed payloads are masked straight into a buffer of their own when the queue's
    // tail has no room: they must still leave in the order they were sent.
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let mid: Vec<u8> = (0..5_000u32).map(|i| (i % 13) as u8).collect();
    for role in ROLES {
        let mut conn = open(role, Config::default());
        conn.send_text("first").unwrap();
        conn.send_binary(&big).unwrap();
        conn.ping(b"between").unwrap();
        conn.send_binary(&mid).unwrap();
        conn.send_binary(&mid).unwrap();
        conn.send_text("last").unwrap();
        let frames = sent_frames(&mut conn);
        let got: Vec<(u8, &[u8])> = frames.iter().map(|f| (f.opcode, &f.payload[..])).collect();
        assert_eq!(
            got,
            [
                (OP_TEXT, &b"first"[..]),
                (OP_BINARY, &big[..]),
                (OP_PING, &b"between"[..]),
                (OP_BINARY, &mid[..]),
                (OP_BINARY, &mid[..]),
                (OP_TEXT, &b"last"[..]),
            ],
            "{role:?}"
        );
        assert!(
            frames
                .iter()
                .all(|f| f.mask.is_some() == (role == Role::Client))
        );
    }
}

#[test]
fn rfc5_1_server_never_masks() {
    let mut server = server(Config::default());
    server.send_text("t").unwrap();
    server.send_binary(b"b").unwrap();
    server.send_owned(DataKind::Binary, vec![1; 5000]).unwrap();
    server.send_fragment(DataKind::Binary, b"f", false).unwrap();
    server.send_fragment(DataKind::Binary, b"g", true).unwrap();
    server.ping(b"p").unwrap();
    server.pong(b"q").unwrap();
    feed(&mut server, &c2s(OP_PING, true, b"auto"));
    server.close(T0, CloseCode::NORMAL, "bye").unwrap();
    let frames = sent_frames(&mut server);
    assert_eq!(frames.len(), 9);
    assert!(frames.iter().all(|f| f.mask.is_none()), "{frames:?}");
    assert!(frames.iter().all(|f| f.rsv == 0));
}

#[test]
fn rfc5_4_send_fragment_with_a_ping_between_fragments() {
    let mut pair = Pair::default_open();
    pair.client
        .send_fragment(DataKind::Text, b"he", false)
        .unwrap();
    assert!(pair.client.is_sending_fragments());
    pair.client.ping(b"between").unwrap();
    pair.client
        .send_fragment(DataKind::Text, b"llo", true)
        .unwrap();
    assert!(!pair.client.is_sending_fragments());
    let frames = parse_frames(
        &pair
            .client
            .transmit_slices()
            .flatten()
            .copied()
            .collect::<Vec<u8>>(),
    );
    let shape: Vec<(bool, u8, &[u8])> = frames
        .iter()
        .map(|f| (f.fin, f.opcode, &f.payload[..]))
        .collect();
    assert_eq!(
        shape,
        [
            (false, OP_TEXT, &b"he"[..]),
            (true, OP_PING, &b"between"[..]),
            (true, OP_CONT, &b"llo"[..]),
        ]
    );
    pair.pump();
    assert_eq!(
        pair.server.events,
        [Ev::Ping(b"between".to_vec()), text("hello")]
    );
    assert_eq!(pair.client.events, [Ev::Pong(b"between".to_vec())]);
}

#[test]
fn send_errors_queue_nothing() {
    let mut conn = server(Config::default());

    conn.send_fragment(DataKind::Text, "ab\u{e9}".as_bytes()[..3].as_ref(), false)
        .unwrap();
    let before = conn.transmit_len();
    assert_eq!(conn.send_text("x"), Err(SendError::MessageInProgress));
    assert_eq!(conn.send_binary(b"x"), Err(SendError::MessageInProgress));
    assert_eq!(
        conn.send_owned(DataKind::Binary, vec![1]),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(
        conn.send_fragment(DataKind::Binary, b"x", true),
        Err(SendError::FragmentKindMismatch)
    );
    // The first fragment ended inside "é" (C3 A9); a byte that cannot continue it fails.
    assert_eq!(
        conn.send_fragment(DataKind::Text, b"x", true),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(conn.transmit_len(), before);
    // A valid continuation still works: the failed calls changed nothing.
    conn.send_fragment(DataKind::Text, &[0xA9], false).unwrap();
    // A last fragment that ends inside a character is refused.
    assert_eq!(
        conn.send_fragment(DataKind::Text, &[0xE2, 0x82], true),
        Err(SendError::InvalidUtf8)
    );
    conn.send_fragment(DataKind::Text, b"!", true).unwrap();
    let frames = sent_frames(&mut conn);
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
    assert_eq!(joined, "ab\u{e9}!".as_bytes());

    assert_eq!(
        conn.send_owned(DataKind::Text, vec![0xFF]),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(conn.ping(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(conn.pong(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(
        conn.close(T0, CloseCode::NORMAL, &"r".repeat(124)),
        Err(SendError::ControlTooLong)
    );
    assert_eq!(
        conn.close(T0, CloseCode(1005), ""),
        Err(SendError::InvalidCloseCode(1005))
    );
    assert_eq!(conn.transmit_len(), 0);
    assert_eq!(conn.state(), State::Open);
    conn.ping(&[0; 125]).unwrap();
}

#[test]
fn send_before_open_is_not_open() {
    let mut server = wsproto::Connection::server(Config::default(), T0);
    assert_eq!(server.send_text("x"), Err(SendError::NotOpen));
    assert_eq!(server.send_binary(b"x"), Err(SendError::NotOpen));
    assert_eq!(
        server.send_fragment(DataKind::Binary, b"x", false),
        Err(SendError::NotOpen)
    );
    assert_eq!(server.ping(b""), Err(SendError::NotOpen));
    assert_eq!(server.pong(b""), Err(SendError::NotOpen));
    assert_eq!(server.transmit_len(), 0);
    // Nor after our close.
    let mut conn = client(Config::default());
    conn.close(T0, CloseCode::NORMAL, "").unwrap();
    assert_eq!(conn.send_text("x"), Err(SendError::NotOpen));
    assert_eq!(conn.ping(b""), Err(SendError::NotOpen));
}

#[test]
fn send_over_max_pending_output_is_output_full() {
    let mut conn = server(Config::default().max_pending_output(64));
    conn.send_binary(&[0; 40]).unwrap();
    let queued = conn.transmit_len();
    assert_eq!(queued, 42);
    assert_eq!(conn.send_binary(&[0; 40]), Err(SendError::OutputFull));
    assert_eq!(
        conn.send_owned(DataKind::Binary, vec![0; 40]),
        Err(SendError::OutputFull)
    );
    assert_eq!(
        conn.send_fragment(DataKind::Binary, &[0; 40], false),
        Err(SendError::OutputFull)
    );
    assert!(!conn.is_sending_fragments());
    assert_eq!(conn.ping(&[0; 40]), Err(SendError::OutputFull));
    assert_eq!(conn.transmit_len(), queued);
    // Automatic replies are never refused.
    let fed = feed(&mut conn, &c2s(OP_PING, true, &[1; 40]));
    assert_eq!(fed.error, None);
    assert_eq!(conn.transmit_len(), queued + 42);
    // Draining makes room again.
    drain(&mut conn);
    conn.send_binary(&[0; 40]).unwrap();
}

#[test]
fn after_a_fatal_error_recv_is_closed_and_nothing_panics() {
    for role in ROLES {
        let mut conn = open(role, Config::default());
        let fed = feed(&mut conn, &to(role, 0x3, true, b""));
        assert_eq!(
            fed.error,
            Some(Error::Protocol(ProtocolError::UnknownOpcode(3)))
        );
        let out = drain(&mut conn);
        for input in [&to(role, OP_TEXT, true, b"late")[..], b"", b"\xff\xff\xff"] {
            let mut buf = input.to_vec();
            assert_eq!(conn.recv(T0, &mut buf).unwrap_err(), Error::Closed);
        }
        assert_eq!(conn.handle_timeout(T0), Ok(()));
        assert_eq!(conn.send_text("x"), Err(SendError::NotOpen));
        assert_eq!(conn.close(T0, CloseCode::NORMAL, ""), Ok(()));
        assert_eq!(conn.transmit_len(), 0, "nothing more is sent after {out:?}");
        assert_eq!(conn.recv_eof(T0), Ok(()));
        assert_eq!(conn.state(), State::Closed);
        assert!(conn.wants_transport_close());
    }
}
