//! How an adapter connection ends, over loopback TCP, in all three adapters: the close frame
//! reaches a peer that is still sending (RFC 6455 7.1.1; a reset must not eat it), and the
//! default keepalive finds a dead peer and tells it 1011.
//!
//! The peer is a raw client on a std socket, so that nothing in it hides what the wire carries.
#![cfg(all(feature = "tokio", feature = "async-io"))]

mod common;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use common::{KEY, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, header, parse_frames};
use wsproto::io::{DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_PONG_TIMEOUT, Message, WsError};
use wsproto::{CloseCode, Config, TimeoutKind};

/// The server's message limit in the streaming tests.
const LIMIT: u64 = 1 << 20;
/// What the peer streams: 16 times the limit, in fragments of 256 KiB.
const FRAGMENT: usize = 256 << 10;
const FRAGMENTS: usize = 64;
/// Every wait is bounded.
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Tokio,
    Futures,
    Blocking,
}

const ADAPTERS: [Adapter; 3] = [Adapter::Tokio, Adapter::Futures, Adapter::Blocking];

/// Serves one connection with `adapter` on a thread: receives until the end, and returns how
/// it ended (`Ok` with the messages seen for a clean end).
fn serve(
    adapter: Adapter,
    config: Config,
) -> (u16, thread::JoinHandle<Result<Vec<Message>, WsError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        match adapter {
            Adapter::Tokio => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    tcp.set_nonblocking(true).unwrap();
                    let tcp = tokio::net::TcpStream::from_std(tcp).unwrap();
                    let mut ws = wsproto::io::tokio::accept(tcp, config).await?;
                    let mut seen = Vec::new();
                    while let Some(message) = ws.recv().await? {
                        seen.push(message);
                    }
                    Ok(seen)
                })
            }
            Adapter::Futures => smol::block_on(async move {
                let tcp = smol::net::TcpStream::try_from(tcp).unwrap();
                let timer = wsproto::io::futures::AsyncIoTimer;
                let mut ws =
                    wsproto::io::futures::WebSocketStream::accept(tcp, config, timer).await?;
                let mut seen = Vec::new();
                while let Some(message) = ws.recv().await? {
                    seen.push(message);
                }
                Ok(seen)
            }),
            Adapter::Blocking => {
                let mut ws = wsproto::io::blocking::WebSocket::accept(tcp, config)?;
                let mut seen = Vec::new();
                while let Some(message) = ws.recv()? {
                    seen.push(message);
                }
                Ok(seen)
            }
        }
    });
    (port, server)
}

/// Connects a raw client and completes the opening handshake.
fn raw_client(port: u16) -> TcpStream {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.set_write_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            tcp.read(&mut byte).unwrap(),
            1,
            "the server ended the handshake"
        );
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Reads until the server ends the stream: everything it sent. A reset is an error here, and
/// exactly what must not happen.
fn read_to_end(tcp: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    tcp.read_to_end(&mut all)?;
    Ok(all)
}

/// A fragment of the streamed message: masked zeros, so the masked payload is the key repeated.
fn fragment(first: bool, last: bool) -> Vec<u8> {
    let opcode = if first { OP_BINARY } else { OP_CONT };
    let mut frame = header(last, 0, opcode, Some(KEY), FRAGMENT as u64);
    frame.extend((0..FRAGMENT).map(|i| KEY[i % 4]));
    frame
}

#[test]
fn a_peer_streaming_past_the_message_limit_still_reads_the_1009_close_frame() {
    for adapter in ADAPTERS {
        let (port, server) = serve(adapter, Config::default().max_message_size(LIMIT));
        let mut tcp = raw_client(port);
        // The peer keeps sending long after the limit: 16 MiB, without reading anything.
        let (first, middle, last) = (
            fragment(true, false),
            fragment(false, false),
            fragment(false, true),
        );
        let mut writes = Ok(());
        for i in 0..FRAGMENTS {
            let frame = match i {
                0 => &first,
                i if i + 1 == FRAGMENTS => &last,
                _ => &middle,
            };
            writes = tcp.write_all(frame);
            if writes.is_err() {
                break;
            }
        }
        // The server drained all of it instead of resetting the connection.
        assert!(
            writes.is_ok(),
            "{adapter:?}: the peer's writes failed: {writes:?}"
        );
        let received = read_to_end(&mut tcp)
            .unwrap_or_else(|e| panic!("{adapter:?}: reading the close frame failed: {e}"));
        let frames = parse_frames(&received);
        let close = frames.last().expect("a frame");
        assert_eq!(close.opcode, OP_CLOSE, "{adapter:?}");
        assert_eq!(&close.payload[..2], &1009u16.to_be_bytes(), "{adapter:?}");
        drop(tcp);
        let err = server.join().unwrap().unwrap_err();
        assert!(
            matches!(err, WsError::LimitExceeded(_)),
            "{adapter:?}: {err}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    }
}

#[test]
fn draining_a_peer_that_never_stops_ends_at_the_close_timeout() {
    // A peer that streams forever cannot hold the connection: the server gives up on it at
    // the close timeout after its 1009.
    for adapter in ADAPTERS {
        let config = Config::default()
            .max_message_size(LIMIT)
            .close_timeout(Duration::from_millis(300));
        let (port, server) = serve(adapter, config);
        let mut tcp = raw_client(port);
        let started = StdInstant::now();
        let (first, middle) = (fragment(true, false), fragment(false, false));
        tcp.write_all(&first).unwrap();
        // Bounded: stops at the first failed write (the server gave up), or after 10 s.
        while started.elapsed() < Duration::from_secs(10) && tcp.write_all(&middle).is_ok() {}
        let err = server.join().unwrap().unwrap_err();
        assert!(
            matches!(err, WsError::LimitExceeded(_)),
            "{adapter:?}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{adapter:?}: the server kept draining"
        );
    }
}

#[test]
fn the_close_handshake_ends_with_the_server_closing_first() {
    // RFC 6455 7.1.1: the server closes the TCP connection first; the client then reads the end.
    for adapter in ADAPTERS {
        let (port, server) = serve(adapter, Config::default());
        let mut tcp = raw_client(port);
        let mut close = header(true, 0, OP_CLOSE, Some(KEY), 2);
        close.extend([0x03 ^ KEY[0], 0xe8 ^ KEY[1]]);
        tcp.write_all(&close).unwrap();
        let received = read_to_end(&mut tcp).unwrap();
        let frames = parse_frames(&received);
        assert_eq!(frames.len(), 1, "{adapter:?}");
        assert_eq!(
            (frames[0].opcode, &frames[0].payload[..]),
            (OP_CLOSE, &[0x03, 0xe8][..])
        );
        drop(tcp);
        let seen = server.join().unwrap().unwrap();
        assert!(
            matches!(seen.as_slice(), [Message::Close(_)]),
            "{adapter:?}: {seen:?}"
        );
    }
}

#[test]
fn the_adapters_keepalive_is_on_by_default_and_can_be_switched_off() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (a, _b) = tokio::io::duplex(64);
        let ws = wsproto::io::tokio::WebSocketStream::upgraded(
            a,
            wsproto::Role::Server,
            Config::default(),
        )
        .unwrap();
        let config = ws.connection().config();
        assert_eq!(config.keepalive_interval, Some(DEFAULT_KEEPALIVE_INTERVAL));
        assert_eq!(config.pong_timeout, Some(DEFAULT_PONG_TIMEOUT));
        assert_eq!(DEFAULT_KEEPALIVE_INTERVAL, Duration::from_secs(20));
        assert_eq!(DEFAULT_PONG_TIMEOUT, Duration::from_secs(20));
        let deadline = ws
            .connection()
            .poll_timeout()
            .expect("the keepalive deadline");
        assert_eq!(deadline.since_epoch(), DEFAULT_KEEPALIVE_INTERVAL);

        let (a, _b) = tokio::io::duplex(64);
        let off = Config::default().no_keepalive();
        let ws =
            wsproto::io::tokio::WebSocketStream::upgraded(a, wsproto::Role::Server, off).unwrap();
        assert_eq!(ws.connection().poll_timeout(), None, "no timer at all");
    });
}

#[test]
fn a_dead_peer_is_failed_with_1011_after_the_pong_timeout() {
    // Short intervals; a peer that completed the handshake and then never answers.
    for adapter in ADAPTERS {
        let config =
            Config::default().keepalive(Duration::from_millis(100), Duration::from_millis(200));
        let (port, server) = serve(adapter, config);
        let mut tcp = raw_client(port);
        let started = StdInstant::now();
        let err = server.join().unwrap().unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, WsError::Timeout(TimeoutKind::Pong)),
            "{adapter:?}: {err}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
        assert!(
            took >= Duration::from_millis(300),
            "{adapter:?}: after {took:?}"
        );
        assert!(took < PATIENCE, "{adapter:?}");
        // What the peer would have read: the ping, then the close 1011 with its reason.
        let received = read_to_end(&mut tcp).unwrap();
        let frames = parse_frames(&received);
        let opcodes: Vec<u8> = frames.iter().map(|f| f.opcode).collect();
        assert_eq!(opcodes, [OP_PING, OP_CLOSE], "{adapter:?}");
        assert_eq!(&frames[1].payload[..2], &1011u16.to_be_bytes());
        assert_eq!(&frames[1].payload[2..], b"keepalive ping timeout");
    }
}

#[test]
fn a_live_peer_answering_pings_stays_connected() {
    // Our own tokio client answers the pings by itself; five intervals pass without a failure.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config =
                Config::default().keepalive(Duration::from_millis(50), Duration::from_millis(100));
            let mut ws = wsproto::io::tokio::accept(tcp, config).await.unwrap();
            let mut pongs = 0;
            while pongs < 5 {
                match ws.recv().await.unwrap() {
                    Some(Message::Pong(_)) => pongs += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            while ws.recv().await.unwrap().is_some() {}
            pongs
        });
        let (mut client, _) = wsproto::io::tokio::connect(url.as_str(), Config::default())
            .await
            .unwrap();
        let ended = tokio::time::timeout(PATIENCE, async {
            let mut pings = 0;
            while let Some(message) = client.recv().await.unwrap() {
                pings += usize::from(message.is_ping());
            }
            pings
        })
        .await
        .expect("bounded");
        assert!(ended >= 5, "{ended} pings");
        assert_eq!(server.await.unwrap(), 5);
    });
}
