//! Throughput against the best Rust peers, in memory, in the same run: every figure is a ratio.
//!
//! `cargo bench -p wsproto-benches --bench throughput` (add `-- receive_binary` etc. to run one group). Results and
//! how to read them: `docs/benchmarks.md`.
//!
//! Workloads (each on wsproto, tungstenite, fastwebsockets and tokio-websockets):
//!
//! - `receive_binary` / `receive_text`: a server receives a stream of client-masked frames of
//!   16 B, 1 KiB, 64 KiB or 1 MiB (4 MiB of payload per iteration); text is UTF-8 validated.
//! - `send_binary` / `send_text`: a client sends the same messages, masking them.
//! - `echo_100k`: 100,000 text messages of 14 bytes: the client sends them all, the server
//!   receives and echoes each one, the client receives the echoes.
//! - `primitives_1MiB`: masking and UTF-8 validation of 1 MiB against a `memcpy` of 1 MiB.
//! - `primitives_16KiB`: masking in cache, the run-time choice against the baseline loop, and
//!   appending a masked copy (as `send` does) against appending a plain copy.
//! - `handshake`: the server parses RFC 6455's sample request and writes its 101 response.
//!
//! # The transport, and why it is fair
//!
//! Every library reads from and writes to the same in-memory [`Mock`], with no runtime: the mock
//! never returns `Pending`, so an async library's future completes on its first poll
//! ([`block_on`] polls with a no-op waker). Each peer pays one copy into its own buffer for the
//! received bytes, which is what a socket read costs:
//!
//! - tungstenite reads the mock through `std::io::Read` (its 128 KiB read chunks);
//! - fastwebsockets and tokio-websockets read it through `tokio::io::AsyncRead`, into their
//!   `BytesMut` buffers (fastwebsockets reserves room for a whole frame).
//!
//! wsproto is sans-IO, so it is measured twice:
//!
//! - `wsproto`: the whole stream is one buffer fed through `Connection::recv` in a loop, the
//!   in-place path: payloads are unmasked and validated in place and lent from the buffer. It
//!   pays no read copy, which the peers do.
//! - `wsproto_read_loop`: as its adapters drive it, reading from the same mock into their read
//!   buffer (`io::ReadBuffer`, up to 256 KiB, or one whole frame if larger) with frames lent
//!   whole (`Config::whole_frame_limit`). This is the like-for-like comparison with the peers.
//!
//! Writes are dropped by the mock (the bytes are counted), except in `echo_100k`, where each
//! side's output is kept and becomes the other side's input. wsproto's output queue is drained
//! whenever it passes 128 KiB (tungstenite's default write buffer) and at the end, as a
//! buffered writer would; tungstenite and tokio-websockets queue with `write`/`feed` and flush at
//! the end; fastwebsockets writes each frame through (it has no write buffer).
//!
//! fastwebsockets is driven through its raw `WebSocket::read_frame`, its fastest path: it does
//! not reassemble fragmented messages (its `FragmentCollector` does), which the others do. With
//! one frame per message the results are the same. fastwebsockets does its HTTP through hyper,
//! so its handshake figure is hyper's HTTP/1 server with `fastwebsockets::upgrade::upgrade`.

use std::future::Future;
use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
// The newest tungstenite (0.30), as tokio-tungstenite 0.30 re-exports it; the crate's own
// dev-dependency is 0.28.
use tokio_tungstenite::tungstenite;

use wsproto::handshake::Accept;
use wsproto::io::ReadBuffer;
use wsproto::mask::{apply_mask, apply_mask_baseline, extend_masked, extend_masked_two_pass};
use wsproto::utf8::Utf8Validator;
use wsproto::{Config, Connection, Event, Instant, Role, Seed};

/// Payload bytes per iteration of the receive and send workloads.
const TOTAL: usize = 4 << 20;
const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1 << 10, "1KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];
const ECHO_MESSAGES: usize = 100_000;
const ECHO_TEXT: &str = "Hello, world!!";
/// wsproto's output queue is written out past this many bytes (tungstenite's write buffer).
const WRITE_BATCH: usize = 128 << 10;
const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

// ---- the in-memory transport ----

/// An in-memory stream. Reads come from `input`; with `cycle` they wrap around to its start
/// (it holds whole frames, so the stream simply repeats), otherwise they end with EOF. Writes
/// are kept in `output` if it is `Some`, else counted and dropped.
struct Mock<'a> {
    input: &'a [u8],
    pos: usize,
    cycle: bool,
    output: Option<Vec<u8>>,
    written: usize,
    /// An async read past the end waits (`Pending`) instead of reporting EOF.
    wait_at_end: bool,
}

impl<'a> Mock<'a> {
    /// A stream that repeats `input` forever and drops what is written.
    fn cycling(input: &'a [u8]) -> Self {
        Mock {
            input,
            pos: 0,
            cycle: true,
            output: None,
            written: 0,
            wait_at_end: false,
        }
    }

    /// A stream that reads `input` once and keeps what is written.
    fn once(input: &'a [u8]) -> Self {
        Mock {
            input,
            pos: 0,
            cycle: false,
            output: Some(Vec::new()),
            written: 0,
            wait_at_end: false,
        }
    }

    /// A stream with nothing to read that drops what is written.
    fn sink() -> Self {
        Mock::cycling(&[])
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        if self.cycle && self.pos == self.input.len() {
            self.pos = 0;
        }
        n
    }

    fn write_from(&mut self, buf: &[u8]) -> usize {
        if let Some(out) = self.output.as_mut() {
            out.extend_from_slice(buf);
        }
        self.written += buf.len();
        buf.len()
    }

    fn write_slices(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        bufs.iter().map(|b| self.write_from(b)).sum()
    }
}

impl Read for Mock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Write for Mock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.write_from(buf))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(self.write_slices(bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Mock<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.wait_at_end && this.pos == this.input.len() {
            return Poll::Pending;
        }
        let n = this.read_into(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Mock<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().write_from(buf)))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().write_slices(bufs)))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future that never waits on a real event: the mock is always ready, so it completes
/// on the first poll (hyper may take a few). No runtime is involved.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a future over the in-memory mock did not complete");
}

// ---- inputs ----

/// `len` bytes of ASCII text (like JSON or chat), so any prefix is valid UTF-8.
fn text_payload(len: usize) -> Vec<u8> {
    const LINE: &[u8] =
        b"{\"user\":\"wsproto\",\"text\":\"The quick brown fox jumps over the lazy dog.\"}\n";
    LINE.iter().copied().cycle().take(len).collect()
}

fn binary_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// UTF-8 text of at least `len` bytes with 2-, 3- and 4-byte characters, cut to a boundary.
fn multibyte_text(len: usize) -> Vec<u8> {
    const LINE: &str = "κόσμε, мир, 世界, 🌍🎉 and some ASCII between them. ";
    let mut out = String::new();
    while out.len() < len {
        out.push_str(LINE);
    }
    let mut end = len;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.into_bytes()
}

/// One frame as a client sends it: FIN, `opcode`, masked with `key`. Written here from RFC 6455
/// section 5.2, independently of the libraries under test.
fn masked_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len < 65536 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
}

/// `TOTAL / size` client-masked frames of `size` bytes, each with its own key.
fn masked_stream(opcode: u8, size: usize) -> (Vec<u8>, usize) {
    let payload = if opcode == 1 {
        text_payload(size)
    } else {
        binary_payload(size)
    };
    let count = TOTAL / size;
    let mut wire = Vec::with_capacity(count * (size + 14));
    for i in 0..count {
        // Bit 7 of each key byte is clear: see the in-place wsproto receive.
        let key = ((i as u32).wrapping_mul(0x9E37_79B9) & 0x7f7f_7f7f).to_be_bytes();
        masked_frame(&mut wire, opcode, &payload, key);
    }
    (wire, count)
}

fn now() -> Instant {
    Instant::ZERO
}

// ---- receive ----

fn bench_receive(c: &mut Criterion, text: bool) {
    let name = if text {
        "receive_text"
    } else {
        "receive_binary"
    };
    let opcode = if text { 1 } else { 2 };
    let mut group = c.benchmark_group(name);
    for (size, label) in SIZES {
        let (wire, count) = masked_stream(opcode, size);
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * size) as u64,
        });

        // wsproto in place: the whole stream is one buffer fed to `recv` in a loop, which unmasks
        // and validates in place and lends each message from it. Unmasking is its own inverse,
        // so the next iteration feeds the same bytes masked again: the same work (the keys have
        // bit 7 clear, so ASCII text stays ASCII either way). No read copy is paid here.
        let mut conn = Connection::upgraded(Role::Server, Config::default(), Seed([1; 32]), now());
        let mut buf = wire.clone();
        group.bench_function(BenchmarkId::new("wsproto", label), |b| {
            b.iter(|| {
                let (mut at, mut got, mut bytes) = (0, 0, 0);
                while at < buf.len() {
                    let recv = conn.recv(now(), &mut buf[at..]).expect("recv");
                    at += recv.consumed;
                    if let Some(Event::Message(msg)) = recv.event {
                        got += 1;
                        bytes += black_box(msg.payload.as_bytes()).len();
                    }
                }
                assert_eq!((got, bytes), (count, count * size));
            })
        });

        // wsproto as its adapters drive it: the adapters' config (frames lent whole) and read
        // buffer (`wsproto::io::ReadBuffer`): reads copy from the transport into it, `recv` runs
        // until it needs input, and the buffer grows (past `MAX_READ_BUFFER` if a frame needs
        // it) as reads fill it.
        let adapter_config = Config::default().whole_frame_limit(Config::default().max_frame_size);
        let mut conn = Connection::upgraded(Role::Server, adapter_config, Seed([1; 32]), now());
        let mut mock = Mock::cycling(&wire);
        let mut buf = ReadBuffer::new();
        group.bench_function(BenchmarkId::new("wsproto_read_loop", label), |b| {
            b.iter(|| {
                let (mut got, mut bytes) = (0, 0);
                while got < count {
                    let recv = conn.recv(now(), buf.filled()).expect("recv");
                    let consumed = recv.consumed;
                    match recv.event {
                        Some(Event::Message(msg)) => {
                            got += 1;
                            bytes += black_box(msg.payload.as_bytes()).len();
                        }
                        Some(other) => panic!("unexpected {other:?}"),
                        None if consumed == 0 => {
                            let n = mock.read_into(buf.spare(conn.input_needed()));
                            buf.filled_by(n);
                        }
                        None => {}
                    }
                    buf.consume(consumed);
                }
                assert_eq!(bytes, count * size);
            })
        });

        let config = tungstenite::protocol::WebSocketConfig::default();
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            Mock::cycling(&wire),
            tungstenite::protocol::Role::Server,
            Some(config),
        );
        group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
            b.iter(|| {
                let mut bytes = 0;
                for _ in 0..count {
                    match ws.read().expect("read") {
                        tungstenite::Message::Binary(data) => bytes += black_box(data).len(),
                        tungstenite::Message::Text(data) => bytes += black_box(data).len(),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                assert_eq!(bytes, count * size);
            })
        });

        let mut ws = fastwebsockets::WebSocket::after_handshake(
            Mock::cycling(&wire),
            fastwebsockets::Role::Server,
        );
        group.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
            b.iter(|| {
                block_on(async {
                    let mut bytes = 0;
                    for _ in 0..count {
                        let frame = ws.read_frame().await.expect("read_frame");
                        assert!(frame.fin);
                        bytes += black_box(&frame.payload[..]).len();
                    }
                    assert_eq!(bytes, count * size);
                })
            })
        });

        let mut ws = tokio_websockets::ServerBuilder::new().serve(Mock::cycling(&wire));
        group.bench_function(BenchmarkId::new("tokio-websockets", label), |b| {
            b.iter(|| {
                block_on(async {
                    let mut bytes = 0;
                    for _ in 0..count {
                        let msg = ws.next().await.expect("message").expect("ok");
                        if text {
                            bytes += black_box(msg.as_text().expect("text")).len();
                        } else {
                            bytes += black_box(msg.as_payload()).len();
                        }
                    }
                    assert_eq!(bytes, count * size);
                })
            })
        });
    }
    group.finish();
}

fn receive_binary(c: &mut Criterion) {
    bench_receive(c, false);
}

fn receive_text(c: &mut Criterion) {
    bench_receive(c, true);
}

// ---- send ----

/// Writes wsproto's whole output queue to the (dropping) transport.
fn drain(conn: &mut Connection) -> usize {
    let n: usize = conn.transmit_slices().map(|s| black_box(s).len()).sum();
    conn.advance_transmit(n);
    n
}

fn bench_send(c: &mut Criterion, text: bool) {
    let name = if text { "send_text" } else { "send_binary" };
    let mut group = c.benchmark_group(name);
    for (size, label) in SIZES {
        let payload = if text {
            text_payload(size)
        } else {
            binary_payload(size)
        };
        let count = TOTAL / size;
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * size) as u64,
        });
        let as_text = String::from_utf8(text_payload(size)).expect("ASCII");

        let mut conn = Connection::upgraded(Role::Client, Config::default(), Seed([2; 32]), now());
        group.bench_function(BenchmarkId::new("wsproto", label), |b| {
            b.iter(|| {
                let mut wrote = 0;
                for _ in 0..count {
                    if text {
                        conn.send_text(&as_text).expect("send");
                    } else {
                        conn.send_binary(&payload).expect("send");
                    }
                    if conn.transmit_len() >= WRITE_BATCH {
                        wrote += drain(&mut conn);
                    }
                }
                wrote += drain(&mut conn);
                assert!(wrote > count * size);
            })
        });

        // The payload as each peer's message type takes it: a cheap reference-counted clone.
        let shared = Bytes::from(payload.clone());
        let mut ws = tungstenite::WebSocket::from_raw_socket(
            Mock::sink(),
            tungstenite::protocol::Role::Client,
            None,
        );
        group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
            b.iter(|| {
                let before = ws.get_ref().written;
                for _ in 0..count {
                    let msg = if text {
                        tungstenite::Message::Text(
                            tungstenite::Utf8Bytes::try_from(shared.clone()).expect("utf8"),
                        )
                    } else {
                        tungstenite::Message::Binary(shared.clone())
                    };
                    ws.write(msg).expect("write");
                }
                ws.flush().expect("flush");
                assert!(ws.get_ref().written - before > count * size);
            })
        });

        let mut ws =
            fastwebsockets::WebSocket::after_handshake(Mock::sink(), fastwebsockets::Role::Client);
        group.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
            b.iter(|| {
                block_on(async {
                    for _ in 0..count {
                        let body = fastwebsockets::Payload::Borrowed(&payload);
                        let frame = if text {
                            fastwebsockets::Frame::text(body)
                        } else {
                            fastwebsockets::Frame::binary(body)
                        };
                        ws.write_frame(frame).await.expect("write_frame");
                    }
                    ws.flush().await.expect("flush");
                })
            })
        });

        let mut ws = tokio_websockets::ClientBuilder::new().take_over(Mock::sink());
        group.bench_function(BenchmarkId::new("tokio-websockets", label), |b| {
            b.iter(|| {
                block_on(async {
                    for _ in 0..count {
                        let msg = if text {
                            tokio_websockets::Message::text(
                                String::from_utf8(payload.clone()).expect("utf8"),
                            )
                        } else {
                            tokio_websockets::Message::binary(shared.clone())
                        };
                        ws.feed(msg).await.expect("feed");
                    }
                    ws.flush().await.expect("flush");
                })
            })
        });
    }
    group.finish();
}

fn send_binary(c: &mut Criterion) {
    bench_send(c, false);
}

fn send_text(c: &mut Criterion) {
    bench_send(c, true);
}

// ---- echo ----

/// Copies wsproto's output queue into `wire` (the transport), as the mock does for the peers.
fn drain_into(conn: &mut Connection, wire: &mut Vec<u8>) {
    let mut n = 0;
    for slice in conn.transmit_slices() {
        wire.extend_from_slice(slice);
        n += slice.len();
    }
    conn.advance_transmit(n);
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_100k");
    group.throughput(Throughput::ElementsAndBytes {
        elements: ECHO_MESSAGES as u64,
        bytes: (ECHO_MESSAGES * ECHO_TEXT.len()) as u64,
    });

    group.bench_function("wsproto", |b| {
        b.iter(|| {
            let mut client =
                Connection::upgraded(Role::Client, Config::default(), Seed([3; 32]), now());
            let mut server =
                Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now());
            let mut to_server = Vec::new();
            for _ in 0..ECHO_MESSAGES {
                client.send_text(ECHO_TEXT).expect("send");
                if client.transmit_len() >= WRITE_BATCH {
                    drain_into(&mut client, &mut to_server);
                }
            }
            drain_into(&mut client, &mut to_server);
            let mut to_client = Vec::new();
            let mut at = 0;
            while at < to_server.len() {
                let recv = server.recv(now(), &mut to_server[at..]).expect("recv");
                at += recv.consumed;
                if let Some(Event::Message(msg)) = recv.event {
                    server
                        .send_text(msg.as_text().expect("text"))
                        .expect("echo");
                    if server.transmit_len() >= WRITE_BATCH {
                        drain_into(&mut server, &mut to_client);
                    }
                }
            }
            drain_into(&mut server, &mut to_client);
            let (mut at, mut got) = (0, 0);
            while at < to_client.len() {
                let recv = client.recv(now(), &mut to_client[at..]).expect("recv");
                at += recv.consumed;
                if let Some(Event::Message(msg)) = recv.event {
                    assert_eq!(black_box(msg.payload.as_bytes()).len(), ECHO_TEXT.len());
                    got += 1;
                }
            }
            assert_eq!(got, ECHO_MESSAGES);
        })
    });

    group.bench_function("tungstenite", |b| {
        use tungstenite::protocol::Role as R;
        use tungstenite::{Message, WebSocket};
        b.iter(|| {
            let mut client = WebSocket::from_raw_socket(Mock::once(&[]), R::Client, None);
            for _ in 0..ECHO_MESSAGES {
                client.write(Message::text(ECHO_TEXT)).expect("write");
            }
            client.flush().expect("flush");
            let to_server = client.get_mut().output.take().expect("output");
            let mut server = WebSocket::from_raw_socket(Mock::once(&to_server), R::Server, None);
            for _ in 0..ECHO_MESSAGES {
                let msg = server.read().expect("read");
                server.write(msg).expect("echo");
            }
            server.flush().expect("flush");
            let to_client = server.get_mut().output.take().expect("output");
            let mut client = WebSocket::from_raw_socket(Mock::once(&to_client), R::Client, None);
            for _ in 0..ECHO_MESSAGES {
                match client.read().expect("read") {
                    Message::Text(t) => assert_eq!(black_box(t).len(), ECHO_TEXT.len()),
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
    });

    group.bench_function("fastwebsockets", |b| {
        use fastwebsockets::{Frame, Payload, Role as R, WebSocket};
        b.iter(|| {
            block_on(async {
                let mut client = WebSocket::after_handshake(Mock::once(&[]), R::Client);
                for _ in 0..ECHO_MESSAGES {
                    let frame = Frame::text(Payload::Borrowed(ECHO_TEXT.as_bytes()));
                    client.write_frame(frame).await.expect("write");
                }
                let mut mock = client.into_inner();
                let to_server = mock.output.take().expect("output");
                let mut server = WebSocket::after_handshake(Mock::once(&to_server), R::Server);
                for _ in 0..ECHO_MESSAGES {
                    let frame = server.read_frame().await.expect("read");
                    server.write_frame(frame).await.expect("echo");
                }
                let mut mock = server.into_inner();
                let to_client = mock.output.take().expect("output");
                let mut client = WebSocket::after_handshake(Mock::once(&to_client), R::Client);
                for _ in 0..ECHO_MESSAGES {
                    let frame = client.read_frame().await.expect("read");
                    assert_eq!(black_box(&frame.payload[..]).len(), ECHO_TEXT.len());
                }
            })
        })
    });

    group.bench_function("tokio-websockets", |b| {
        use tokio_websockets::{ClientBuilder, Message, ServerBuilder};
        b.iter(|| {
            block_on(async {
                let mut client = ClientBuilder::new().take_over(Mock::once(&[]));
                for _ in 0..ECHO_MESSAGES {
                    client.feed(Message::text(ECHO_TEXT)).await.expect("feed");
                }
                client.flush().await.expect("flush");
                let to_server = client.get_mut().output.take().expect("output");
                let mut server = ServerBuilder::new().serve(Mock::once(&to_server));
                for _ in 0..ECHO_MESSAGES {
                    let msg = server.next().await.expect("message").expect("ok");
                    server.feed(msg).await.expect("echo");
                }
                server.flush().await.expect("flush");
                let to_client = server.get_mut().output.take().expect("output");
                let mut client = ClientBuilder::new().take_over(Mock::once(&to_client));
                for _ in 0..ECHO_MESSAGES {
                    let msg = client.next().await.expect("message").expect("ok");
                    assert_eq!(
                        black_box(msg.as_text().expect("text")).len(),
                        ECHO_TEXT.len()
                    );
                }
            })
        })
    });
    group.finish();
}

// ---- primitives ----

fn primitives(c: &mut Criterion) {
    // Masking in L1/L2-sized pieces, where the vector width rather than memory bandwidth
    // decides: the run-time AVX-512/AVX2 choice against the baseline SSE2 loop.
    let mut group = c.benchmark_group("primitives_16KiB");
    group.throughput(Throughput::Bytes(16 << 10));
    let mut small = binary_payload(16 << 10);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    group.bench_function("wsproto_apply_mask", |b| {
        b.iter(|| apply_mask(black_box(&mut small), key, 0))
    });
    group.bench_function("wsproto_apply_mask_baseline", |b| {
        b.iter(|| apply_mask_baseline(black_box(&mut small), key, 0))
    });
    group.bench_function("wsproto_apply_mask_offset_1", |b| {
        b.iter(|| apply_mask(black_box(&mut small[1..]), key, 1))
    });
    group.bench_function("wsproto_apply_mask_baseline_offset_1", |b| {
        b.iter(|| apply_mask_baseline(black_box(&mut small[1..]), key, 1))
    });
    // Appending a masked copy, as a client's send does: the copy alone, the copy then a
    // masking pass, and the one-pass masked copy that `send` uses.
    let mut queue: Vec<u8> = Vec::with_capacity(16 << 10);
    group.bench_function("append_memcpy", |b| {
        b.iter(|| {
            queue.clear();
            queue.extend_from_slice(black_box(&small));
        })
    });
    group.bench_function("wsproto_append_copy_then_mask", |b| {
        b.iter(|| {
            queue.clear();
            extend_masked_two_pass(&mut queue, black_box(&small), key, 0);
        })
    });
    group.bench_function("wsproto_append_extend_masked", |b| {
        b.iter(|| {
            queue.clear();
            extend_masked(&mut queue, black_box(&small), key, 0);
        })
    });
    group.finish();

    const LEN: usize = 1 << 20;
    let mut group = c.benchmark_group("primitives_1MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    let binary = binary_payload(LEN);
    let ascii = text_payload(LEN);
    let multibyte = multibyte_text(LEN);
    let mut dst = vec![0u8; LEN];

    group.bench_function("memcpy", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&binary)))
    });
    group.bench_function("wsproto_apply_mask", |b| {
        b.iter(|| apply_mask(black_box(&mut dst), key, 0))
    });
    group.bench_function("wsproto_apply_mask_offset_1", |b| {
        b.iter(|| apply_mask(black_box(&mut dst[1..]), key, 1))
    });
    group.bench_function("wsproto_apply_mask_baseline", |b| {
        b.iter(|| apply_mask_baseline(black_box(&mut dst), key, 0))
    });
    group.bench_function("fastwebsockets_unmask", |b| {
        b.iter(|| fastwebsockets::unmask(black_box(&mut dst), key))
    });
    for (label, text) in [("ascii", &ascii), ("multibyte", &multibyte)] {
        group.bench_function(format!("wsproto_utf8_{label}"), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(text)).expect("valid");
                assert!(v.is_complete());
            })
        });
        group.bench_function(format!("core_from_utf8_{label}"), |b| {
            b.iter(|| core::str::from_utf8(black_box(text)).expect("valid").len())
        });
    }
    group.finish();
}

// ---- handshake ----

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));

    group.bench_function("wsproto", |b| {
        b.iter(|| {
            let mut conn = Connection::server(Config::default(), now());
            let mut input = RFC_REQUEST.to_vec();
            let recv = conn.recv(now(), &mut input).expect("recv");
            assert!(matches!(recv.event, Some(Event::Request(_))));
            conn.accept(now(), &Accept::new()).expect("accept");
            let n = drain(&mut conn);
            assert!(n > 100);
        })
    });

    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            let ws = tungstenite::accept(Mock::once(RFC_REQUEST)).expect("accept");
            assert!(ws.get_ref().written > 100);
        })
    });

    group.bench_function("fastwebsockets", |b| {
        use http_body_util::Empty;
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        b.iter(|| {
            // hyper reads on after the request; EOF there would abort the upgrade, so the mock
            // waits instead, as an open socket does.
            let mut mock = Mock::once(RFC_REQUEST);
            mock.wait_at_end = true;
            let io = hyper_util::rt::TokioIo::new(mock);
            let service = service_fn(
                |mut req: hyper::Request<hyper::body::Incoming>| async move {
                    let (response, _upgrade) = fastwebsockets::upgrade::upgrade(&mut req)?;
                    Ok::<hyper::Response<Empty<Bytes>>, fastwebsockets::WebSocketError>(response)
                },
            );
            let conn = http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades();
            // The connection ends once the 101 is written and the stream is handed over.
            block_on(conn).expect("serve");
        })
    });

    group.bench_function("tokio-websockets", |b| {
        b.iter(|| {
            let (request, ws) =
                block_on(tokio_websockets::ServerBuilder::new().accept(Mock::once(RFC_REQUEST)))
                    .expect("accept");
            black_box(request);
            assert!(ws.get_ref().written > 100);
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = receive_binary, receive_text, send_binary, send_text, echo, primitives, handshake
}
criterion_main!(benches);
