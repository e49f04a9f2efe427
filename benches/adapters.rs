//! Every library through its normal public message API, in memory, in the same run.
//!
//! `cargo bench -p wsproto-benches --bench adapters` (add `-- adapter_receive_binary` etc. to run
//! one group); `python3 benches/summarize_adapters.py` prints the tables from
//! `target/criterion`. Where `benches/throughput.rs` measures each library's fastest path (hand
//! made read loops, batched writes), this bench measures what a user of each library gets when
//! calling the API its documentation shows: one call per message received, one call (with its
//! flush) per message sent, messages owned by the caller.
//!
//! # The libraries
//!
//! - `wsproto_tokio`: `wsproto::io::tokio::WebSocketStream::upgraded`, `recv().await` and
//!   `send(msg).await` (which flushes).
//! - `wsproto_blocking`: `wsproto::io::blocking::WebSocket::upgraded`, `recv()` and `send()`.
//! - `wsproto_core`: `wsproto::Connection` driven directly with `wsproto::io::ReadBuffer` over
//!   the same mock, the adapters' config (frames lent whole), messages borrowed from the read
//!   buffer, and the output queue written to the mock after every message: the ceiling the
//!   adapters are measured against.
//! - `tungstenite` (0.30, the one tokio-tungstenite 0.30 re-exports):
//!   `WebSocket::from_raw_socket`, `read()` and `send()` (which flushes).
//! - `tokio-tungstenite` (0.30): `WebSocketStream::from_raw_socket`, `StreamExt::next` and
//!   `SinkExt::send` (which flushes).
//! - `fastwebsockets` (0.10): `WebSocket::after_handshake` in a `FragmentCollector` (its message
//!   API: it reassembles fragments and validates text), `read_frame` and `write_frame`
//!   (fastwebsockets has no write buffer: each frame is written through to the stream, and
//!   `FragmentCollector` has no `flush`).
//! - `tokio-websockets` (0.13): `ServerBuilder::serve` / `ClientBuilder::take_over`,
//!   `StreamExt::next` and `SinkExt::send` (which flushes).
//!
//! Each peer is given its cheapest normal message type: `Bytes`/`Utf8Bytes` payloads cloned per
//! message for tungstenite, tokio-tungstenite and tokio-websockets, a borrowed payload for
//! fastwebsockets, and `Utf8Bytes`/`Bytes` cloned per message for wsproto's adapters.
//!
//! # Workloads
//!
//! - `adapter_receive_binary`, `adapter_receive_text_ascii`, `adapter_receive_text_multibyte`:
//!   a server receives a stream of client-masked frames (built here from RFC 6455, independently
//!   of the libraries) of 16 B, 1 KiB, 64 KiB or 1 MiB, 4 MiB of payload per iteration. Each
//!   message is touched (its length summed through `black_box`) and dropped. The multi-byte text
//!   mixes Greek, Cyrillic, CJK, emoji and accents with some ASCII; its share of bytes in 2-4
//!   byte sequences is computed and printed at start-up (and must be at least 40 %).
//! - `adapter_send_binary`, `adapter_send_text_ascii`, `adapter_send_text_multibyte`: a client
//!   sends the same messages, masked, one send (with its flush) per message.
//!   `adapter_send_binary_server`: the same binary messages sent by a server (unmasked).
//! - `adapter_echo_100k`: 100,000 text messages of 14 bytes between a client and a server of
//!   the same library on one thread: the client sends them all, the server receives and echoes
//!   each one, the client receives the echoes. Fresh connections each iteration.
//! - `broadcast_1000`: one chat message of 100 bytes (mostly multi-byte text) sent by a server
//!   to 1,000 server-role connections, each over its own mock; per connection wsproto's adapters send
//!   one `PreparedFrame` built once (`send_prepared`), tungstenite, tokio-tungstenite and
//!   tokio-websockets clone theirs (a reference-count increment), fastwebsockets builds a frame
//!   over the borrowed text. Throughput is in messages delivered (1,000 per iteration).
//! - `limits`: the physical limits at the same four sizes: `memcpy` of N bytes into a
//!   preallocated buffer (`copy_from_slice`), and the same copy followed by XOR with a 4-byte
//!   mask, both as a plain 8-byte word loop (`memcpy_xor_words`, what the compiler makes of
//!   portable code) and with `wsproto::mask::apply_mask` (`memcpy_apply_mask`, the run-time
//!   SIMD choice the library masks with).
//!
//! Every workload checks its result (message count and byte total received, or the exact number
//! of bytes written) once before it is timed, so a broken set-up fails loudly.
//!
//! # The transport, and why it is fair
//!
//! Every library reads from and writes to the same in-memory [`Mock`] and runs without a
//! runtime: the mock never returns `Pending` where it is read, so an async call completes on its
//! first poll ([`block_on`] polls with a no-op waker; a tokio runtime context is entered, without
//! being driven, only so that a timer could be created). The receive workloads cycle over one
//! buffer of frames; each library pays one copy of those bytes into its own read buffer, which
//! is what a socket read costs, in the read sizes its own buffer asks for. Writes are counted,
//! copied into one 64 KiB scratch buffer (as a socket write copies into the kernel's buffer, so
//! a library that writes a payload vectored without copying it pays the same one copy as one
//! that copies it into its write buffer first) and dropped, except in `adapter_echo_100k`,
//! where each side's writes are appended to an in-memory pipe the other side reads. The send
//! workloads expect exactly the same wire bytes from every library (one frame per message),
//! which is asserted.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
// The newest tungstenite (0.30), as tokio-tungstenite 0.30 re-exports it; the crate's own
// dev-dependency is 0.28.
use tokio_tungstenite::tungstenite;

use wsproto::io::{Message, ReadBuffer};
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
const BROADCAST_CONNECTIONS: usize = 1000;
const BROADCAST_LEN: usize = 100;
const CHAT_LINE: &str = "小明: 大家好！今天的会议改到下午三点 🎉👍 Привет, всем! ¡Olé! ";
/// The share of multi-byte bytes the multi-byte text must reach.
const MIN_MULTIBYTE_SHARE: f64 = 0.40;

// ---- wsproto's message API: every conversion in one place ----

/// The text a wsproto sender keeps and sends again and again.
type WsText = wsproto::Utf8Bytes;

/// Builds the kept text from bytes, validated once, outside the timed loop.
fn ws_text_source(bytes: &Bytes) -> WsText {
    wsproto::Utf8Bytes::try_from(bytes.clone()).expect("utf8")
}

/// A text message to send, per send: a reference-count increment.
fn ws_text(text: &WsText) -> Message {
    Message::Text(text.clone())
}

/// A binary message to send, per send: a reference-count increment.
fn ws_binary(payload: &Bytes) -> Message {
    Message::Binary(payload.clone())
}

/// The payload length of a received data message, touched through `black_box`.
fn ws_payload_len(message: &Message) -> usize {
    match message {
        Message::Text(text) => black_box(text.as_str()).len(),
        Message::Binary(data) => black_box(&data[..]).len(),
        other => panic!("unexpected {other:?}"),
    }
}

// ---- the in-memory transport ----

/// An in-memory byte pipe between two peers in `adapter_echo_100k`.
type Pipe = Rc<RefCell<Vec<u8>>>;

/// The bytes a socket write copies into: the kernel's socket buffer.
const SCRATCH: usize = 64 << 10;

/// Where dropped writes go, shared by the mocks of a workload: a count of the bytes written and
/// a scratch buffer they are copied into, as a socket write copies them into the kernel.
struct Sink {
    bytes: Cell<usize>,
    scratch: RefCell<Vec<u8>>,
}

type Counter = Rc<Sink>;

/// An in-memory stream. Reads come from `pipe_in` if set (up to what has been written to it;
/// past that a read would block), else from `input`, cycling back to its start (it holds whole
/// frames, so the stream simply repeats; an empty `input` is EOF). Writes are appended to
/// `pipe_out` if set, else copied into the shared scratch buffer and dropped; they are always
/// counted in `written` (shared, so it can be read while a library owns the mock).
struct Mock<'a> {
    input: &'a [u8],
    pipe_in: Option<Pipe>,
    pos: usize,
    pipe_out: Option<Pipe>,
    written: Counter,
}

impl<'a> Mock<'a> {
    /// A stream that repeats `input` forever and drops (counts) what is written.
    fn cycling(input: &'a [u8], written: &Counter) -> Self {
        Mock {
            input,
            pipe_in: None,
            pos: 0,
            pipe_out: None,
            written: Rc::clone(written),
        }
    }

    /// A stream with nothing to read that drops (counts) what is written.
    fn sink(written: &Counter) -> Self {
        Mock::cycling(&[], written)
    }

    /// One end of a pipe pair: reads `rx`, appends to `tx`.
    fn pipe(rx: &Pipe, tx: &Pipe) -> Self {
        Mock {
            input: &[],
            pipe_in: Some(Rc::clone(rx)),
            pos: 0,
            pipe_out: Some(Rc::clone(tx)),
            written: counter(),
        }
    }

    /// Copies into `buf`; `None` when a pipe has nothing more yet (the read would block).
    fn read_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = self.with_next(buf.len(), |chunk| buf[..chunk.len()].copy_from_slice(chunk))?;
        Some(n)
    }

    /// Hands `copy` the next at most `max` bytes of input and consumes them; `None` when a pipe
    /// has nothing more yet (the read would block).
    fn with_next(&mut self, max: usize, copy: impl FnOnce(&[u8])) -> Option<usize> {
        if let Some(pipe) = &self.pipe_in {
            let data = pipe.borrow();
            let n = max.min(data.len() - self.pos);
            if n == 0 && max > 0 {
                return None;
            }
            copy(&data[self.pos..self.pos + n]);
            self.pos += n;
            return Some(n);
        }
        if self.input.is_empty() {
            return Some(0);
        }
        let n = max.min(self.input.len() - self.pos);
        copy(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.input.len() {
            self.pos = 0;
        }
        Some(n)
    }

    fn write_from(&mut self, buf: &[u8]) -> usize {
        if let Some(pipe) = &self.pipe_out {
            pipe.borrow_mut().extend_from_slice(buf);
        } else {
            // One copy per byte written, whoever wrote it: a zero-copy vectored write of a
            // payload is not free on a real socket either.
            let mut scratch = self.written.scratch.borrow_mut();
            for chunk in buf.chunks(SCRATCH) {
                scratch[..chunk.len()].copy_from_slice(chunk);
            }
            black_box(scratch.as_mut_ptr());
        }
        self.written.bytes.set(self.written.bytes.get() + buf.len());
        buf.len()
    }

    fn write_slices(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        bufs.iter().map(|b| self.write_from(b)).sum()
    }
}

impl Read for Mock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
            .ok_or_else(|| io::ErrorKind::WouldBlock.into())
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

/// The blocking adapter's transport trait: the defaults (no read timeout, shutdown = flush).
impl wsproto::io::blocking::Transport for Mock<'_> {}

impl AsyncRead for Mock<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // As a socket does: the bytes are copied into the unfilled part, initialized or not,
        // with nothing zeroed first.
        let this = self.get_mut();
        match this.with_next(buf.remaining(), |chunk| buf.put_slice(chunk)) {
            Some(_) => Poll::Ready(Ok(())),
            None => Poll::Pending,
        }
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

thread_local! {
    /// Only for the timer that the adapters' default keepalive arms: nothing is driven by it.
    static TIMER_RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
}

/// Runs a future that never waits on a real event: the mock is always ready where it is read,
/// so it completes on the first poll. No runtime drives it; one is entered so that the
/// keepalive's sleep can be created.
fn block_on<F: Future>(future: F) -> F::Output {
    TIMER_RUNTIME.with(|runtime| {
        let _context = runtime.enter();
        poll_to_end(future)
    })
}

fn poll_to_end<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a future over the in-memory mock did not complete");
}

fn counter() -> Counter {
    Rc::new(Sink {
        bytes: Cell::new(0),
        scratch: RefCell::new(vec![0; SCRATCH]),
    })
}

// ---- inputs ----

/// What a workload's messages hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binary,
    Ascii,
    Multibyte,
}

impl Kind {
    fn is_text(self) -> bool {
        self != Kind::Binary
    }

    fn opcode(self) -> u8 {
        if self.is_text() { 1 } else { 2 }
    }

    fn suffix(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Ascii => "text_ascii",
            Kind::Multibyte => "text_multibyte",
        }
    }

    fn payload(self, len: usize) -> Vec<u8> {
        match self {
            Kind::Binary => binary_payload(len),
            Kind::Ascii => text_payload(len),
            Kind::Multibyte => multibyte_text(len),
        }
    }
}

/// `len` bytes of ASCII text (like JSON or chat), so any prefix is valid UTF-8.
fn text_payload(len: usize) -> Vec<u8> {
    const LINE: &[u8] =
        b"{\"user\":\"wsproto\",\"text\":\"The quick brown fox jumps over the lazy dog.\"}\n";
    LINE.iter().copied().cycle().take(len).collect()
}

fn binary_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Exactly `len` bytes of UTF-8 text made of `line` repeated, cut at a character boundary and
/// padded with spaces.
fn repeat_text(line: &str, len: usize) -> Vec<u8> {
    let mut out = String::with_capacity(len + line.len());
    while out.len() < len {
        out.push_str(line);
    }
    let mut end = len;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    while out.len() < len {
        out.push(' ');
    }
    out.into_bytes()
}

/// Exactly `len` bytes of mostly multi-byte UTF-8: 2-byte (Greek, Cyrillic, accents), 3-byte
/// (CJK, punctuation) and 4-byte (emoji) characters with some ASCII between them.
fn multibyte_text(len: usize) -> Vec<u8> {
    const LINE: &str = "κόσμε мир 世界 🌍🎉 café naïve 日本語のテキスト 😀 Привет! 你好，世界。 ";
    repeat_text(LINE, len)
}

/// The share of `text`'s bytes that belong to 2-, 3- or 4-byte UTF-8 sequences.
fn multibyte_share(text: &[u8]) -> f64 {
    let text = std::str::from_utf8(text).expect("utf8");
    let multi: usize = text.chars().map(char::len_utf8).filter(|&n| n > 1).sum();
    multi as f64 / text.len() as f64
}

/// One frame: FIN, `opcode`, masked with `key` if given. Written here from RFC 6455 section
/// 5.2, independently of the libraries under test.
fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: Option<[u8; 4]>) {
    out.push(0x80 | opcode);
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len < 65536 {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match key {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
}

/// The bytes one frame of `len` payload bytes takes on the wire.
fn frame_len(len: usize, masked: bool) -> usize {
    let header = if len < 126 {
        2
    } else if len < 65536 {
        4
    } else {
        10
    };
    header + if masked { 4 } else { 0 } + len
}

/// `count` client-masked frames of `payload`, each with its own key.
fn masked_stream(opcode: u8, payload: &[u8], count: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(count * frame_len(payload.len(), true));
    for i in 0..count {
        let key = (i as u32).wrapping_mul(0x9E37_79B9).to_be_bytes();
        frame(&mut wire, opcode, payload, Some(key));
    }
    wire
}

fn now() -> Instant {
    Instant::ZERO
}

// ---- the harness ----

/// Runs `run` once and checks its result (messages, bytes) against `expect`, then times it as
/// `library` (with parameter `label`, if any).
fn bench_checked<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    (library, label): (&str, Option<&str>),
    expect: (usize, usize),
    mut run: R,
) where
    R: FnMut() -> (usize, usize),
{
    let got = run();
    assert_eq!(
        got,
        expect,
        "{library} {}: (messages, bytes) differ from what was expected",
        label.unwrap_or("")
    );
    match label {
        Some(label) => group.bench_function(BenchmarkId::new(library, label), |b| {
            b.iter(|| black_box(run()))
        }),
        None => group.bench_function(library, |b| b.iter(|| black_box(run()))),
    };
}

fn id<'a>(library: &'a str, label: Option<&'a str>) -> (&'a str, Option<&'a str>) {
    (library, label)
}

/// wsproto's core driven directly: `Connection` plus `ReadBuffer` over a mock, as the adapters
/// drive it but with messages borrowed from the read buffer and no adapter around it.
struct Core<'a> {
    conn: Connection,
    buf: ReadBuffer,
    mock: Mock<'a>,
}

impl<'a> Core<'a> {
    fn new(mock: Mock<'a>, role: Role) -> Self {
        // The adapters' config: frames up to `max_frame_size` are lent whole from the buffer.
        let config = Config::default().whole_frame_limit(Config::default().max_frame_size);
        Core {
            conn: Connection::upgraded(role, config, Seed([7; 32]), now()),
            buf: ReadBuffer::new(),
            mock,
        }
    }

    /// Receives the next data message and hands it, borrowed, to `f` with the connection.
    fn recv_with<T>(
        &mut self,
        mut f: impl FnMut(&mut Connection, &wsproto::Message<'_>) -> T,
    ) -> T {
        loop {
            let recv = self.conn.recv(now(), self.buf.filled()).expect("recv");
            let consumed = recv.consumed;
            let out = match recv.event {
                Some(Event::Message(msg)) => Some(f(&mut self.conn, &msg)),
                Some(other) => panic!("unexpected {other:?}"),
                None if consumed == 0 => {
                    let spare = self.buf.spare(self.conn.input_needed());
                    let n = self.mock.read_into(spare).expect("input");
                    assert!(n > 0, "unexpected end of input");
                    self.buf.filled_by(n);
                    None
                }
                None => None,
            };
            self.buf.consume(consumed);
            if let Some(out) = out {
                return out;
            }
        }
    }

    fn recv_len(&mut self) -> usize {
        self.recv_with(|_, msg| black_box(msg.payload.as_bytes()).len())
    }

    /// Writes the whole output queue to the mock, as an adapter's flush does.
    fn flush(&mut self) {
        let mut n = 0;
        for slice in self.conn.transmit_slices() {
            n += self.mock.write_from(slice);
        }
        self.conn.advance_transmit(n);
    }
}

fn ws_tokio(mock: Mock<'_>, role: Role) -> wsproto::io::tokio::WebSocketStream<Mock<'_>> {
    wsproto::io::tokio::WebSocketStream::upgraded(mock, role, Config::default()).expect("upgraded")
}

fn ws_blocking(mock: Mock<'_>, role: Role) -> wsproto::io::blocking::WebSocket<Mock<'_>> {
    wsproto::io::blocking::WebSocket::upgraded(mock, role, Config::default()).expect("upgraded")
}

fn tung_role(role: Role) -> tungstenite::protocol::Role {
    match role {
        Role::Client => tungstenite::protocol::Role::Client,
        Role::Server => tungstenite::protocol::Role::Server,
    }
}

fn tungstenite_ws(mock: Mock<'_>, role: Role) -> tungstenite::WebSocket<Mock<'_>> {
    tungstenite::WebSocket::from_raw_socket(mock, tung_role(role), None)
}

fn tokio_tungstenite_ws(
    mock: Mock<'_>,
    role: Role,
) -> tokio_tungstenite::WebSocketStream<Mock<'_>> {
    block_on(tokio_tungstenite::WebSocketStream::from_raw_socket(
        mock,
        tung_role(role),
        None,
    ))
}

fn fastwebsockets_ws(mock: Mock<'_>, role: Role) -> fastwebsockets::FragmentCollector<Mock<'_>> {
    let role = match role {
        Role::Client => fastwebsockets::Role::Client,
        Role::Server => fastwebsockets::Role::Server,
    };
    fastwebsockets::FragmentCollector::new(fastwebsockets::WebSocket::after_handshake(mock, role))
}

fn tokio_websockets_ws(mock: Mock<'_>, role: Role) -> tokio_websockets::WebSocketStream<Mock<'_>> {
    match role {
        Role::Client => tokio_websockets::ClientBuilder::new().take_over(mock),
        Role::Server => tokio_websockets::ServerBuilder::new().serve(mock),
    }
}

fn tung_len(msg: &tungstenite::Message) -> usize {
    match msg {
        tungstenite::Message::Binary(data) => black_box(&data[..]).len(),
        tungstenite::Message::Text(text) => black_box(text.as_str()).len(),
        other => panic!("unexpected {other:?}"),
    }
}

fn fast_len(frame: &fastwebsockets::Frame<'_>) -> usize {
    assert!(matches!(
        frame.opcode,
        fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary
    ));
    black_box(&frame.payload[..]).len()
}

fn tws_len(msg: &tokio_websockets::Message, text: bool) -> usize {
    if text {
        black_box(msg.as_text().expect("text")).len()
    } else {
        assert!(msg.is_binary());
        black_box(&msg.as_payload()[..]).len()
    }
}

// ---- receive ----

fn bench_receive(c: &mut Criterion, kind: Kind) {
    let mut group = c.benchmark_group(format!("adapter_receive_{}", kind.suffix()));
    let text = kind.is_text();
    for (size, label) in SIZES {
        let payload = kind.payload(size);
        let count = TOTAL / size;
        let wire = masked_stream(kind.opcode(), &payload, count);
        let expect = (count, count * size);
        let label = Some(label);
        group.throughput(Throughput::Bytes((count * size) as u64));
        let written = counter();
        let mock = || Mock::cycling(&wire, &written);

        let mut ws = ws_tokio(mock(), Role::Server);
        bench_checked(&mut group, id("wsproto_tokio", label), expect, || {
            block_on(async {
                let mut bytes = 0;
                for _ in 0..count {
                    let msg = ws.recv().await.expect("recv").expect("open");
                    bytes += ws_payload_len(&msg);
                }
                (count, bytes)
            })
        });

        let mut ws = ws_blocking(mock(), Role::Server);
        bench_checked(&mut group, id("wsproto_blocking", label), expect, || {
            let mut bytes = 0;
            for _ in 0..count {
                let msg = ws.recv().expect("recv").expect("open");
                bytes += ws_payload_len(&msg);
            }
            (count, bytes)
        });

        let mut core = Core::new(mock(), Role::Server);
        bench_checked(&mut group, id("wsproto_core", label), expect, || {
            let bytes = (0..count).map(|_| core.recv_len()).sum();
            (count, bytes)
        });

        let mut ws = tungstenite_ws(mock(), Role::Server);
        bench_checked(&mut group, id("tungstenite", label), expect, || {
            let mut bytes = 0;
            for _ in 0..count {
                bytes += tung_len(&ws.read().expect("read"));
            }
            (count, bytes)
        });

        let mut ws = tokio_tungstenite_ws(mock(), Role::Server);
        bench_checked(&mut group, id("tokio-tungstenite", label), expect, || {
            block_on(async {
                let mut bytes = 0;
                for _ in 0..count {
                    bytes += tung_len(&ws.next().await.expect("message").expect("ok"));
                }
                (count, bytes)
            })
        });

        let mut ws = fastwebsockets_ws(mock(), Role::Server);
        bench_checked(&mut group, id("fastwebsockets", label), expect, || {
            block_on(async {
                let mut bytes = 0;
                for _ in 0..count {
                    bytes += fast_len(&ws.read_frame().await.expect("read_frame"));
                }
                (count, bytes)
            })
        });

        let mut ws = tokio_websockets_ws(mock(), Role::Server);
        bench_checked(&mut group, id("tokio-websockets", label), expect, || {
            block_on(async {
                let mut bytes = 0;
                for _ in 0..count {
                    bytes += tws_len(&ws.next().await.expect("message").expect("ok"), text);
                }
                (count, bytes)
            })
        });
        assert_eq!(written.bytes.get(), 0, "a receiver wrote something");
    }
    group.finish();
}

fn receive_binary(c: &mut Criterion) {
    bench_receive(c, Kind::Binary);
}

fn receive_text_ascii(c: &mut Criterion) {
    bench_receive(c, Kind::Ascii);
}

fn receive_text_multibyte(c: &mut Criterion) {
    bench_receive(c, Kind::Multibyte);
}

// ---- send ----

fn bench_send(c: &mut Criterion, kind: Kind, role: Role) {
    let name = match role {
        Role::Client => format!("adapter_send_{}", kind.suffix()),
        Role::Server => format!("adapter_send_{}_server", kind.suffix()),
    };
    let mut group = c.benchmark_group(name);
    let text = kind.is_text();
    let masked = role == Role::Client;
    for (size, label) in SIZES {
        let payload = Bytes::from(kind.payload(size));
        let count = TOTAL / size;
        // Every library writes exactly these bytes: one frame per message.
        let expect = (count, count * frame_len(size, masked));
        let label = Some(label);
        group.throughput(Throughput::Bytes((count * size) as u64));
        let written = counter();
        let sink = || Mock::sink(&written);
        // Each run reports the bytes it wrote.
        let since = |before: usize| (count, written.bytes.get() - before);

        // wsproto: one `Message` per send, sharing the kept payload.
        let ws_source = text.then(|| ws_text_source(&payload));
        let ws_message = || match &ws_source {
            Some(text) => ws_text(text),
            None => ws_binary(&payload),
        };
        let mut ws = ws_tokio(sink(), role);
        bench_checked(&mut group, id("wsproto_tokio", label), expect, || {
            let before = written.bytes.get();
            block_on(async {
                for _ in 0..count {
                    ws.send(ws_message()).await.expect("send");
                }
            });
            since(before)
        });

        let mut ws = ws_blocking(sink(), role);
        bench_checked(&mut group, id("wsproto_blocking", label), expect, || {
            let before = written.bytes.get();
            for _ in 0..count {
                ws.send(ws_message()).expect("send");
            }
            since(before)
        });

        let mut core = Core::new(sink(), role);
        let as_str = std::str::from_utf8(&payload).unwrap_or("");
        bench_checked(&mut group, id("wsproto_core", label), expect, || {
            let before = written.bytes.get();
            for _ in 0..count {
                if text {
                    core.conn.send_text(as_str).expect("send");
                } else {
                    core.conn.send_binary(&payload).expect("send");
                }
                core.flush();
            }
            since(before)
        });

        // tungstenite and tokio-tungstenite: `Bytes`/`Utf8Bytes` cloned per message.
        let utf8 = text.then(|| tungstenite::Utf8Bytes::try_from(payload.clone()).expect("utf8"));
        let tung_message = || match &utf8 {
            Some(text) => tungstenite::Message::Text(text.clone()),
            None => tungstenite::Message::Binary(payload.clone()),
        };
        let mut ws = tungstenite_ws(sink(), role);
        bench_checked(&mut group, id("tungstenite", label), expect, || {
            let before = written.bytes.get();
            for _ in 0..count {
                ws.send(tung_message()).expect("send");
            }
            since(before)
        });

        let mut ws = tokio_tungstenite_ws(sink(), role);
        bench_checked(&mut group, id("tokio-tungstenite", label), expect, || {
            let before = written.bytes.get();
            block_on(async {
                for _ in 0..count {
                    ws.send(tung_message()).await.expect("send");
                }
            });
            since(before)
        });

        // fastwebsockets: a frame over the borrowed payload (it copies it to mask it).
        let mut ws = fastwebsockets_ws(sink(), role);
        bench_checked(&mut group, id("fastwebsockets", label), expect, || {
            let before = written.bytes.get();
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
            });
            since(before)
        });

        // tokio-websockets: its `Payload` over the shared `Bytes`, cloned per message.
        let mut ws = tokio_websockets_ws(sink(), role);
        bench_checked(&mut group, id("tokio-websockets", label), expect, || {
            let before = written.bytes.get();
            block_on(async {
                for _ in 0..count {
                    let msg = if text {
                        tokio_websockets::Message::text(payload.clone())
                    } else {
                        tokio_websockets::Message::binary(payload.clone())
                    };
                    ws.send(msg).await.expect("send");
                }
            });
            since(before)
        });
    }
    group.finish();
}

fn send_binary(c: &mut Criterion) {
    bench_send(c, Kind::Binary, Role::Client);
}

fn send_text_ascii(c: &mut Criterion) {
    bench_send(c, Kind::Ascii, Role::Client);
}

fn send_text_multibyte(c: &mut Criterion) {
    bench_send(c, Kind::Multibyte, Role::Client);
}

fn send_binary_server(c: &mut Criterion) {
    bench_send(c, Kind::Binary, Role::Server);
}

// ---- echo ----

/// Two pipes: what the client writes the server reads, and back.
struct Pipes {
    to_server: Pipe,
    to_client: Pipe,
}

impl Pipes {
    fn new() -> Self {
        Pipes {
            to_server: Pipe::default(),
            to_client: Pipe::default(),
        }
    }

    fn client(&self) -> Mock<'static> {
        Mock::pipe(&self.to_client, &self.to_server)
    }

    fn server(&self) -> Mock<'static> {
        Mock::pipe(&self.to_server, &self.to_client)
    }
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("adapter_echo_100k");
    group.throughput(Throughput::ElementsAndBytes {
        elements: ECHO_MESSAGES as u64,
        bytes: (ECHO_MESSAGES * ECHO_TEXT.len()) as u64,
    });
    let expect = (ECHO_MESSAGES, ECHO_MESSAGES * ECHO_TEXT.len());
    let n = ECHO_MESSAGES;

    let ws_source = ws_text_source(&Bytes::from_static(ECHO_TEXT.as_bytes()));
    bench_checked(&mut group, id("wsproto_tokio", None), expect, || {
        let pipes = Pipes::new();
        let mut client = ws_tokio(pipes.client(), Role::Client);
        let mut server = ws_tokio(pipes.server(), Role::Server);
        block_on(async {
            for _ in 0..n {
                client.send(ws_text(&ws_source)).await.expect("send");
            }
            for _ in 0..n {
                let msg = server.recv().await.expect("recv").expect("open");
                server.send(msg).await.expect("echo");
            }
            let mut bytes = 0;
            for _ in 0..n {
                bytes += ws_payload_len(&client.recv().await.expect("recv").expect("open"));
            }
            (n, bytes)
        })
    });

    bench_checked(&mut group, id("wsproto_blocking", None), expect, || {
        let pipes = Pipes::new();
        let mut client = ws_blocking(pipes.client(), Role::Client);
        let mut server = ws_blocking(pipes.server(), Role::Server);
        for _ in 0..n {
            client.send(ws_text(&ws_source)).expect("send");
        }
        for _ in 0..n {
            let msg = server.recv().expect("recv").expect("open");
            server.send(msg).expect("echo");
        }
        let bytes = (0..n)
            .map(|_| ws_payload_len(&client.recv().expect("recv").expect("open")))
            .sum();
        (n, bytes)
    });

    bench_checked(&mut group, id("wsproto_core", None), expect, || {
        let pipes = Pipes::new();
        let mut client = Core::new(pipes.client(), Role::Client);
        let mut server = Core::new(pipes.server(), Role::Server);
        for _ in 0..n {
            client.conn.send_text(ECHO_TEXT).expect("send");
            client.flush();
        }
        for _ in 0..n {
            server
                .recv_with(|conn, msg| conn.send_text(msg.as_text().expect("text")).expect("echo"));
            server.flush();
        }
        let bytes = (0..n).map(|_| client.recv_len()).sum();
        (n, bytes)
    });

    let utf8 = tungstenite::Utf8Bytes::from_static(ECHO_TEXT);
    bench_checked(&mut group, id("tungstenite", None), expect, || {
        let pipes = Pipes::new();
        let mut client = tungstenite_ws(pipes.client(), Role::Client);
        let mut server = tungstenite_ws(pipes.server(), Role::Server);
        for _ in 0..n {
            client
                .send(tungstenite::Message::Text(utf8.clone()))
                .expect("send");
        }
        for _ in 0..n {
            let msg = server.read().expect("read");
            server.send(msg).expect("echo");
        }
        let bytes = (0..n)
            .map(|_| tung_len(&client.read().expect("read")))
            .sum();
        (n, bytes)
    });

    bench_checked(&mut group, id("tokio-tungstenite", None), expect, || {
        let pipes = Pipes::new();
        let mut client = tokio_tungstenite_ws(pipes.client(), Role::Client);
        let mut server = tokio_tungstenite_ws(pipes.server(), Role::Server);
        block_on(async {
            for _ in 0..n {
                client
                    .send(tungstenite::Message::Text(utf8.clone()))
                    .await
                    .expect("send");
            }
            for _ in 0..n {
                let msg = server.next().await.expect("message").expect("ok");
                server.send(msg).await.expect("echo");
            }
            let mut bytes = 0;
            for _ in 0..n {
                bytes += tung_len(&client.next().await.expect("message").expect("ok"));
            }
            (n, bytes)
        })
    });

    bench_checked(&mut group, id("fastwebsockets", None), expect, || {
        use fastwebsockets::{Frame, Payload};
        let pipes = Pipes::new();
        let mut client = fastwebsockets_ws(pipes.client(), Role::Client);
        let mut server = fastwebsockets_ws(pipes.server(), Role::Server);
        block_on(async {
            for _ in 0..n {
                let frame = Frame::text(Payload::Borrowed(ECHO_TEXT.as_bytes()));
                client.write_frame(frame).await.expect("write_frame");
            }
            for _ in 0..n {
                let frame = server.read_frame().await.expect("read_frame");
                server.write_frame(frame).await.expect("echo");
            }
            let mut bytes = 0;
            for _ in 0..n {
                bytes += fast_len(&client.read_frame().await.expect("read_frame"));
            }
            (n, bytes)
        })
    });

    bench_checked(&mut group, id("tokio-websockets", None), expect, || {
        let pipes = Pipes::new();
        let mut client = tokio_websockets_ws(pipes.client(), Role::Client);
        let mut server = tokio_websockets_ws(pipes.server(), Role::Server);
        block_on(async {
            for _ in 0..n {
                client
                    .send(tokio_websockets::Message::text(ECHO_TEXT))
                    .await
                    .expect("send");
            }
            for _ in 0..n {
                let msg = server.next().await.expect("message").expect("ok");
                server.send(msg).await.expect("echo");
            }
            let mut bytes = 0;
            for _ in 0..n {
                bytes += tws_len(&client.next().await.expect("message").expect("ok"), true);
            }
            (n, bytes)
        })
    });
    group.finish();
}

// ---- broadcast ----

fn broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast_1000");
    group.throughput(Throughput::Elements(BROADCAST_CONNECTIONS as u64));
    let text = Bytes::from(repeat_text(CHAT_LINE, BROADCAST_LEN));
    let share = multibyte_share(&text);
    assert!(share > 0.5, "the chat message is {share:.2} multi-byte");
    let conns = BROADCAST_CONNECTIONS;
    // Each connection is written one unmasked frame; all mocks share one counter.
    let expect = (conns, conns * frame_len(text.len(), false));
    let written = counter();
    let sink = || Mock::sink(&written);
    let since = |before: usize| (conns, written.bytes.get() - before);

    // Framed once for every connection, as the chat example's fan-out does.
    let prepared = wsproto::PreparedFrame::text(ws_text_source(&text));
    let mut all: Vec<_> = (0..conns).map(|_| ws_tokio(sink(), Role::Server)).collect();
    bench_checked(&mut group, id("wsproto_tokio", None), expect, || {
        let before = written.bytes.get();
        block_on(async {
            for ws in &mut all {
                ws.send_prepared(&prepared).await.expect("send");
            }
        });
        since(before)
    });
    drop(all);

    let mut all: Vec<_> = (0..conns)
        .map(|_| ws_blocking(sink(), Role::Server))
        .collect();
    bench_checked(&mut group, id("wsproto_blocking", None), expect, || {
        let before = written.bytes.get();
        for ws in &mut all {
            ws.send_prepared(&prepared).expect("send");
        }
        since(before)
    });
    drop(all);

    let as_str = std::str::from_utf8(&text).expect("utf8");
    let mut all: Vec<_> = (0..conns)
        .map(|_| Core::new(sink(), Role::Server))
        .collect();
    bench_checked(&mut group, id("wsproto_core", None), expect, || {
        let before = written.bytes.get();
        for core in &mut all {
            core.conn.send_text(as_str).expect("send");
            core.flush();
        }
        since(before)
    });
    drop(all);

    let tung_message =
        tungstenite::Message::Text(tungstenite::Utf8Bytes::try_from(text.clone()).expect("utf8"));
    let mut all: Vec<_> = (0..conns)
        .map(|_| tungstenite_ws(sink(), Role::Server))
        .collect();
    bench_checked(&mut group, id("tungstenite", None), expect, || {
        let before = written.bytes.get();
        for ws in &mut all {
            ws.send(tung_message.clone()).expect("send");
        }
        since(before)
    });
    drop(all);

    let mut all: Vec<_> = (0..conns)
        .map(|_| tokio_tungstenite_ws(sink(), Role::Server))
        .collect();
    bench_checked(&mut group, id("tokio-tungstenite", None), expect, || {
        let before = written.bytes.get();
        block_on(async {
            for ws in &mut all {
                ws.send(tung_message.clone()).await.expect("send");
            }
        });
        since(before)
    });
    drop(all);

    let mut all: Vec<_> = (0..conns)
        .map(|_| fastwebsockets_ws(sink(), Role::Server))
        .collect();
    bench_checked(&mut group, id("fastwebsockets", None), expect, || {
        let before = written.bytes.get();
        block_on(async {
            for ws in &mut all {
                let frame = fastwebsockets::Frame::text(fastwebsockets::Payload::Borrowed(&text));
                ws.write_frame(frame).await.expect("write_frame");
            }
        });
        since(before)
    });
    drop(all);

    let tws_message = tokio_websockets::Message::text(text.clone());
    let mut all: Vec<_> = (0..conns)
        .map(|_| tokio_websockets_ws(sink(), Role::Server))
        .collect();
    bench_checked(&mut group, id("tokio-websockets", None), expect, || {
        let before = written.bytes.get();
        block_on(async {
            for ws in &mut all {
                ws.send(tws_message.clone()).await.expect("send");
            }
        });
        since(before)
    });
    drop(all);
    group.finish();
}

// ---- limits ----

/// XOR with a 4-byte mask as a plain loop over 8-byte words: what portable code compiles to.
fn xor_words(buf: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key) as u64;
    let k = k | (k << 32);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ k;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // Whole words are a multiple of 4 bytes, so the tail starts at mask offset 0.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

fn limits(c: &mut Criterion) {
    let mut group = c.benchmark_group("limits");
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let src = binary_payload(size);
        let mut dst = vec![0u8; size];

        // Check once that both masking loops agree with the plain definition.
        let reference: Vec<u8> = src
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        dst.copy_from_slice(&src);
        xor_words(&mut dst, key);
        assert_eq!(dst, reference, "xor_words");
        dst.copy_from_slice(&src);
        wsproto::mask::apply_mask(&mut dst, key, 0);
        assert_eq!(dst, reference, "apply_mask");

        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            b.iter(|| dst.copy_from_slice(black_box(&src)))
        });
        group.bench_function(BenchmarkId::new("memcpy_xor_words", label), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                xor_words(black_box(&mut dst), key);
            })
        });
        group.bench_function(BenchmarkId::new("memcpy_apply_mask", label), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                wsproto::mask::apply_mask(black_box(&mut dst), key, 0);
            })
        });
    }
    group.finish();
}

// ---- main ----

fn report_inputs() {
    let text = multibyte_text(TOTAL);
    let share = multibyte_share(&text);
    let chat = multibyte_share(&repeat_text(CHAT_LINE, BROADCAST_LEN));
    println!(
        "adapters: multi-byte text is {:.1} % bytes in 2-4 byte UTF-8 sequences \
         (at least {:.0} % required); the broadcast chat message is {:.1} %",
        share * 100.0,
        MIN_MULTIBYTE_SHARE * 100.0,
        chat * 100.0
    );
    assert!(share >= MIN_MULTIBYTE_SHARE, "multi-byte text is too ASCII");
    for (size, _) in SIZES {
        let share = multibyte_share(&multibyte_text(size));
        assert!(
            share >= MIN_MULTIBYTE_SHARE,
            "{size}-byte multi-byte text: {share:.2}"
        );
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        // Plotting takes longer than many of the measurements on a small machine; the
        // estimates (what `summarize_adapters.py` reads) are written either way.
        .without_plots()
}

fn main() {
    // Not driven: entered only so that an adapter could create a tokio timer if it armed one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    report_inputs();
    let mut c = config().configure_from_args();
    let targets: [fn(&mut Criterion); 10] = [
        receive_binary,
        receive_text_ascii,
        receive_text_multibyte,
        send_binary,
        send_text_ascii,
        send_text_multibyte,
        send_binary_server,
        echo,
        broadcast,
        limits,
    ];
    for target in targets {
        target(&mut c);
    }
    c.final_summary();
}
