//! RFC 6455 section 4: the opening handshake, through real `Connection`s.

mod common;

use common::*;
use wsproto::handshake::Accept;
use wsproto::{ClientRequest, Config, Connection, Error, HandshakeError, SendError, State};

/// A server fed `request` in one read: the error it returned and the reply it queued.
fn server_reply(config: Config, request: &[u8]) -> (Fed, String) {
    let mut server = Connection::server(config, T0);
    let fed = feed(&mut server, request);
    let reply = String::from_utf8(drain(&mut server)).expect("reply is text");
    assert_eq!(
        server.state(),
        State::Closed,
        "a refused handshake ends the connection"
    );
    assert!(
        server.wants_transport_close(),
        "after the reply is written the server closes the transport"
    );
    (fed, reply)
}

/// The RFC sample request with `from` replaced by `to`.
fn rfc_request_with(from: &str, to: &str) -> Vec<u8> {
    assert!(RFC_REQUEST.contains(from), "{from:?}");
    RFC_REQUEST.replacen(from, to, 1).into_bytes()
}

#[test]
fn rfc1_3_sample_key_is_accepted_with_exact_101_bytes() {
    let mut server = Connection::server(Config::default(), T0);
    let mut input = RFC_REQUEST.as_bytes().to_vec();
    let recv = server.recv(T0, &mut input).unwrap();
    assert_eq!(recv.consumed, RFC_REQUEST.len());
    let Some(wsproto::Event::Request(request)) = recv.event else {
        panic!("expected a request, got {:?}", recv.event)
    };
    assert_eq!(request.path(), "/chat");
    assert_eq!(request.host(), Some("server.example.com"));
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(request.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(
        request.subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert_eq!(server.state(), State::Connecting);
    assert_eq!(server.transmit_len(), 0, "nothing is sent before accept");

    server
        .accept(T0, &Accept::new().subprotocol("chat"))
        .unwrap();
    assert_eq!(server.state(), State::Open);
    assert_eq!(server.subprotocol(), Some("chat"));
    let reply = drain(&mut server);
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: chat\r\n\r\n"
    );
    assert!(!server.wants_transport_close());
}

#[test]
fn rfc4_2_1_malformed_requests_are_answered_400_by_the_core() {
    let cases: &[(&str, Vec<u8>)] = &[
        ("garbage", b"\xff\xfe not http\r\n\r\n".to_vec()),
        ("bad header name", rfc_request_with("Origin:", "Bad Name:")),
        (
            "missing Host",
            rfc_request_with("Host: server.example.com\r\n", ""),
        ),
        (
            "two Hosts",
            rfc_request_with("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n"),
        ),
        (
            "missing Upgrade",
            rfc_request_with("Upgrade: websocket\r\n", ""),
        ),
        (
            "Upgrade not websocket",
            rfc_request_with("Upgrade: websocket", "Upgrade: h2c"),
        ),
        (
            "missing Connection",
            rfc_request_with("Connection: Upgrade\r\n", ""),
        ),
        (
            "Connection without upgrade",
            rfc_request_with("Connection: Upgrade", "Connection: keep-alive"),
        ),
        (
            "missing key",
            rfc_request_with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
        ),
        (
            "key not 16 bytes",
            rfc_request_with("dGhlIHNhbXBsZSBub25jZQ==", "AAAA"),
        ),
        ("HTTP/1.0", rfc_request_with("HTTP/1.1", "HTTP/1.0")),
    ];
    for (name, request) in cases {
        let (fed, reply) = server_reply(Config::default(), request);
        let Some(Error::Handshake(err)) = &fed.error else {
            panic!("{name}: expected a handshake error, got {:?}", fed.error)
        };
        assert_eq!(err.status(), 400, "{name}: {err:?}");
        assert!(fed.events.is_empty(), "{name}");
        assert!(
            reply.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{name}: {reply:?}"
        );
        assert_eq!(head_header(&reply, "Connection"), Some("close"), "{name}");
    }
}

#[test]
fn rfc4_2_1_non_get_method_is_answered_405() {
    let (fed, reply) = server_reply(Config::default(), &rfc_request_with("GET", "POST"));
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::MethodNotAllowed))
    );
    assert!(
        reply.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{reply:?}"
    );
    assert_eq!(head_header(&reply, "Allow"), Some("GET"));
}

#[test]
fn rfc4_4_unsupported_version_is_answered_426_with_version_13() {
    let request = rfc_request_with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let (fed, reply) = server_reply(Config::default(), &request);
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::UnsupportedVersion))
    );
    assert!(
        reply.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{reply:?}"
    );
    assert_eq!(head_header(&reply, "Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn head_larger_than_max_handshake_size_is_answered_431() {
    let len = RFC_REQUEST.len();
    // Exactly at the limit passes.
    let mut server = Connection::server(Config::default().max_handshake_size(len), T0);
    let fed = feed(&mut server, RFC_REQUEST.as_bytes());
    assert_eq!(fed.error, None);
    assert!(matches!(fed.events[..], [Ev::Request(_)]));
    // One byte over fails, in one read and byte by byte, without waiting for the end.
    for bytewise in [false, true] {
        let mut server = Connection::server(Config::default().max_handshake_size(len - 1), T0);
        let fed = if bytewise {
            feed_bytewise(&mut server, RFC_REQUEST.as_bytes())
        } else {
            feed(&mut server, RFC_REQUEST.as_bytes())
        };
        assert_eq!(
            fed.error,
            Some(Error::Handshake(HandshakeError::HeadersTooLarge)),
            "bytewise: {bytewise}"
        );
        let reply = String::from_utf8(drain(&mut server)).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{reply:?}"
        );
        assert!(server.wants_transport_close());
    }
    // A head that never ends is refused once it passes the limit.
    let mut server = Connection::server(Config::default().max_handshake_size(100), T0);
    let fed = feed(&mut server, &[b'a'; 101]);
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::HeadersTooLarge))
    );
}

#[test]
fn more_headers_than_max_headers_is_answered_431() {
    // The sample has 7 headers.
    let mut server = Connection::server(Config::default().max_headers(7), T0);
    let fed = feed(&mut server, RFC_REQUEST.as_bytes());
    assert_eq!(fed.error, None);
    assert!(matches!(fed.events[..], [Ev::Request(_)]));
    let (fed, reply) = server_reply(Config::default().max_headers(6), RFC_REQUEST.as_bytes());
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::HeadersTooLarge))
    );
    assert!(reply.starts_with("HTTP/1.1 431 "), "{reply:?}");
}

#[test]
fn rfc4_2_2_server_may_reject_with_401_then_closes_after_flush() {
    let mut server = Connection::server(Config::default(), T0);
    let mut input = RFC_REQUEST.as_bytes().to_vec();
    let recv = server.recv(T0, &mut input).unwrap();
    assert!(matches!(recv.event, Some(wsproto::Event::Request(_))));
    // Invalid answers change nothing.
    assert_eq!(
        server.reject(101, &[], b""),
        Err(SendError::InvalidHandshakeAnswer)
    );
    assert_eq!(
        server.reject(401, &[("Content-Length", "9")], b""),
        Err(SendError::InvalidHandshakeAnswer)
    );
    assert_eq!(server.transmit_len(), 0);
    server
        .reject(401, &[("WWW-Authenticate", "Bearer")], b"no token")
        .unwrap();
    assert_eq!(server.state(), State::Closed);
    assert!(
        !server.wants_transport_close(),
        "the reply must be written before the transport is closed"
    );
    let reply = String::from_utf8(drain(&mut server)).unwrap();
    let (head, body) = split_head(reply.as_bytes());
    assert!(
        head.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{head:?}"
    );
    assert_eq!(head_header(&head, "WWW-Authenticate"), Some("Bearer"));
    assert_eq!(head_header(&head, "Content-Length"), Some("8"));
    assert_eq!(body, b"no token");
    assert!(server.wants_transport_close());
    assert_eq!(
        server.accept(T0, &Accept::new()),
        Err(SendError::NoRequestPending)
    );
}

#[test]
fn rfc4_1_client_reports_a_non_101_answer_as_rejected_with_its_headers() {
    let mut pair = Pair::connecting(
        Config::default(),
        Config::default(),
        ClientRequest::new("example.com", "/chat"),
        Accept::new(),
    );
    // Move the request, then reject it instead of accepting.
    let request = drain(&mut pair.client);
    let mut server = Connection::server(Config::default(), T0);
    let fed = feed_split_with(&mut server, T0, &request, &[], |conn, ev| {
        if let Ev::Request(_) = ev {
            conn.reject(401, &[("WWW-Authenticate", "Basic realm=\"x\"")], b"")
                .unwrap();
        }
    });
    assert_eq!(fed.error, None);
    let reply = drain(&mut server);
    let fed = feed(&mut pair.client, &reply);
    let Some(Error::Handshake(HandshakeError::Rejected(response))) = fed.error else {
        panic!("expected Rejected, got {:?}", fed.error)
    };
    assert_eq!(response.status(), 401);
    assert_eq!(response.reason(), "Unauthorized");
    assert_eq!(
        response.header_str("www-authenticate"),
        Some("Basic realm=\"x\"")
    );
    assert_eq!(
        Error::Handshake(HandshakeError::Rejected(response)).http_status(),
        Some(401)
    );
    assert_eq!(pair.client.state(), State::Closed);
    assert_eq!(
        pair.client.transmit_len(),
        0,
        "a client sends nothing on failure"
    );
    assert!(pair.client.wants_transport_close());
}

#[test]
fn rfc4_1_client_must_fail_on_wrong_accept() {
    let (mut client, _, _) =
        client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
    let fed = feed(
        &mut client,
        &response_101("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &[]),
    );
    assert_eq!(fed.error, Some(Error::Handshake(HandshakeError::BadAccept)));
    assert_eq!(fed.error.unwrap().http_status(), Some(101));
    assert_eq!(client.state(), State::Closed);
    assert!(client.wants_transport_close());
}

#[test]
fn rfc4_1_client_must_fail_on_missing_upgrade_or_connection() {
    for (drop, header) in [
        ("Upgrade: websocket\r\n", "Upgrade"),
        ("Connection: Upgrade\r\n", "Connection"),
    ] {
        let (mut client, _, accept) =
            client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
        let response = String::from_utf8(response_101(&accept, &[]))
            .unwrap()
            .replacen(drop, "", 1);
        let fed = feed(&mut client, response.as_bytes());
        assert_eq!(
            fed.error,
            Some(Error::Handshake(HandshakeError::BadHeader(header)))
        );
    }
}

#[test]
fn rfc4_1_client_must_fail_on_unoffered_subprotocol() {
    let cases = [
        (
            ClientRequest::new("example.com", "/").subprotocol("chat"),
            "mqtt",
        ),
        (ClientRequest::new("example.com", "/"), "chat"),
    ];
    for (request, chosen) in cases {
        let (mut client, _, accept) = client_awaiting_response(Config::default(), request);
        let line = format!("Sec-WebSocket-Protocol: {chosen}");
        let fed = feed(&mut client, &response_101(&accept, &[&line]));
        assert_eq!(
            fed.error,
            Some(Error::Handshake(HandshakeError::UnofferedSubprotocol)),
            "{chosen}"
        );
        assert_eq!(client.state(), State::Closed);
    }
    // The same answer to an offer of that subprotocol opens the connection.
    let (mut client, _, accept) = client_awaiting_response(
        Config::default(),
        ClientRequest::new("example.com", "/").subprotocol("mqtt"),
    );
    let fed = feed(
        &mut client,
        &response_101(&accept, &["Sec-WebSocket-Protocol: mqtt"]),
    );
    assert_eq!(fed.error, None);
    assert_eq!(client.subprotocol(), Some("mqtt"));
}

#[test]
fn rfc4_1_client_must_fail_on_unoffered_extension() {
    let (mut client, _, accept) =
        client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
    let fed = feed(
        &mut client,
        &response_101(&accept, &["Sec-WebSocket-Extensions: permessage-deflate"]),
    );
    assert_eq!(
        fed.error,
        Some(Error::Handshake(HandshakeError::UnofferedExtension))
    );
}

#[test]
fn rfc4_2_2_subprotocol_negotiated_on_both_sides() {
    let pair = Pair::with(
        Config::default(),
        Config::default(),
        ClientRequest::new("example.com", "/chat")
            .subprotocol("chat")
            .subprotocol("superchat"),
        Accept::new().subprotocol("superchat"),
    );
    assert_eq!(pair.client.subprotocol(), Some("superchat"));
    assert_eq!(pair.server.subprotocol(), Some("superchat"));
    let request = pair.server.request().expect("request kept");
    assert_eq!(
        request.subprotocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    let (head, _) = split_head(&pair.client.wrote);
    assert_eq!(
        head_header(&head, "Sec-WebSocket-Protocol"),
        Some("chat, superchat")
    );
    let (reply, _) = split_head(&pair.server.wrote);
    assert_eq!(
        head_header(&reply, "Sec-WebSocket-Protocol"),
        Some("superchat")
    );

    // Without a choice, no header is sent and neither side has a subprotocol.
    let pair = Pair::with(
        Config::default(),
        Config::default(),
        ClientRequest::new("example.com", "/chat").subprotocol("chat"),
        Accept::new(),
    );
    assert_eq!(
        (pair.client.subprotocol(), pair.server.subprotocol()),
        (None, None)
    );
    let (reply, _) = split_head(&pair.server.wrote);
    assert_eq!(head_header(&reply, "Sec-WebSocket-Protocol"), None);
}

#[test]
fn rfc4_2_2_server_cannot_choose_a_subprotocol_the_client_did_not_offer() {
    let mut server = Connection::server(Config::default(), T0);
    let mut input = RFC_REQUEST.as_bytes().to_vec();
    server.recv(T0, &mut input).unwrap();
    assert_eq!(
        server.accept(T0, &Accept::new().subprotocol("mqtt")),
        Err(SendError::InvalidHandshakeAnswer)
    );
    assert_eq!(server.transmit_len(), 0);
    assert_eq!(server.state(), State::Connecting);
    server
        .accept(T0, &Accept::new().subprotocol("superchat"))
        .unwrap();
    assert_eq!(server.state(), State::Open);
}

#[test]
fn server_first_frame_in_the_same_read_as_the_request_is_not_lost() {
    let hello = c2s(OP_TEXT, true, b"hello");
    let input = cat(&[RFC_REQUEST.as_bytes(), &hello]);

    // Raw: the request consumes exactly the head; frame bytes wait for the answer.
    let mut server = Connection::server(Config::default(), T0);
    let mut buf = input.clone();
    let recv = server.recv(T0, &mut buf).unwrap();
    assert_eq!(recv.consumed, RFC_REQUEST.len());
    assert!(matches!(recv.event, Some(wsproto::Event::Request(_))));
    let rest = &mut buf[RFC_REQUEST.len()..];
    assert_eq!(server.recv(T0, rest).unwrap_err(), Error::AwaitingAccept);
    assert_eq!(
        rest,
        &hello[..],
        "bytes refused before accept are untouched"
    );
    server.accept(T0, &Accept::new()).unwrap();
    let recv = server.recv(T0, rest).unwrap();
    assert_eq!(recv.consumed, hello.len());
    assert_eq!(recv.event.map(Ev::of), Some(text("hello")));

    // Any split of the same stream.
    for cut in 0..=input.len() {
        let mut server = Connection::server(Config::default(), T0);
        let fed = feed_split(&mut server, T0, &input, &[cut]);
        assert_eq!(fed.error, None, "cut {cut}");
        assert!(
            matches!(fed.events[..], [Ev::Request(_), ref m] if *m == text("hello")),
            "cut {cut}: {:?}",
            fed.events
        );
    }
}

#[test]
fn client_first_frame_in_the_same_read_as_the_101_is_not_lost() {
    let (mut client, _, accept) =
        client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
    let response = response_101(&accept, &[]);
    let input = cat(&[
        &response,
        &s2c(OP_BINARY, true, b"\x00\x01"),
        &s2c(OP_PING, true, b"p"),
    ]);
    let mut buf = input.clone();
    let recv = client.recv(T0, &mut buf).unwrap();
    assert_eq!(recv.consumed, response.len());
    assert!(matches!(recv.event, Some(wsproto::Event::Connected(_))));
    let fed = feed(&mut client, &input[response.len()..]);
    assert_eq!(fed.error, None);
    assert_eq!(fed.events, [binary(b"\x00\x01"), Ev::Ping(b"p".to_vec())]);

    for cut in 0..=input.len() {
        let (mut client, _, _) =
            client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
        let fed = feed_split(&mut client, T0, &input, &[cut]);
        assert_eq!(fed.error, None, "cut {cut}");
        assert_eq!(fed.events.len(), 3, "cut {cut}: {:?}", fed.events);
        assert!(matches!(fed.events[0], Ev::Connected(_)));
        assert_eq!(
            fed.events[1..],
            [binary(b"\x00\x01"), Ev::Ping(b"p".to_vec())]
        );
    }
}

#[test]
fn rfc4_1_client_request_carries_required_and_extra_headers() {
    let request = ClientRequest::new("example.com:8080", "/chat?room=1")
        .origin("https://example.com")
        .header("Cookie", "session=abc")
        .header("Authorization", "Bearer token");
    let (_, head, _) = client_awaiting_response(Config::default(), request.clone());
    assert!(
        head.starts_with("GET /chat?room=1 HTTP/1.1\r\n"),
        "{head:?}"
    );
    assert_eq!(head_header(&head, "Host"), Some("example.com:8080"));
    assert_eq!(head_header(&head, "Upgrade"), Some("websocket"));
    assert_eq!(head_header(&head, "Connection"), Some("Upgrade"));
    assert_eq!(head_header(&head, "Sec-WebSocket-Version"), Some("13"));
    assert_eq!(head_header(&head, "Origin"), Some("https://example.com"));
    assert_eq!(head_header(&head, "Cookie"), Some("session=abc"));
    assert_eq!(head_header(&head, "Authorization"), Some("Bearer token"));
    // RFC 4.1: the key is a base64-encoded random 16-byte nonce.
    let key = head_header(&head, "Sec-WebSocket-Key").unwrap();
    assert_eq!(key.len(), 24);
    assert!(key.ends_with("=="));

    // The server sees them too.
    let pair = Pair::with(Config::default(), Config::default(), request, Accept::new());
    let seen = pair.server.request().unwrap();
    assert_eq!(seen.header_str("cookie"), Some("session=abc"));
    assert_eq!(seen.header_str("AUTHORIZATION"), Some("Bearer token"));
    assert_eq!((seen.path(), seen.query()), ("/chat", Some("room=1")));
    assert_eq!(seen.origin(), Some("https://example.com"));
}

#[test]
fn client_request_with_header_injection_is_refused() {
    let request = ClientRequest::new("example.com", "/").header("Cookie", "a\r\nX-Evil: 1");
    assert_eq!(
        Connection::client(Config::default(), request, seed(), T0).unwrap_err(),
        SendError::InvalidHandshakeAnswer
    );
}

#[test]
fn request_fed_one_byte_at_a_time_is_accepted() {
    let mut server = Connection::server(Config::default(), T0);
    let fed = feed_bytewise(&mut server, RFC_REQUEST.as_bytes());
    assert_eq!(fed.error, None);
    let [Ev::Request(request)] = &fed.events[..] else {
        panic!("{:?}", fed.events)
    };
    assert_eq!(request.key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(server.state(), State::Open);
    let (reply, _) = split_head(&drain(&mut server));
    assert_eq!(
        head_header(&reply, "Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );

    // The client's response, byte by byte, too.
    let (mut client, _, accept) =
        client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
    let fed = feed_bytewise(&mut client, &response_101(&accept, &[]));
    assert_eq!(fed.error, None);
    assert!(matches!(fed.events[..], [Ev::Connected(_)]));
    assert_eq!(client.state(), State::Open);
}

#[test]
fn rfc4_1_data_cannot_be_sent_before_the_handshake_completes() {
    let (mut client, _, _) =
        client_awaiting_response(Config::default(), ClientRequest::new("example.com", "/"));
    assert_eq!(client.send_text("early"), Err(SendError::NotOpen));
    assert_eq!(client.ping(b""), Err(SendError::NotOpen));
    assert_eq!(
        client.close(T0, wsproto::CloseCode::NORMAL, ""),
        Err(SendError::NotOpen)
    );
    assert_eq!(client.transmit_len(), 0);
}
