//! The client side of `benches/connections_100k.sh`: many idle WebSocket connections in one
//! process, and a normal client that checks the echo while they are open.
//!
//! ```text
//! connections_100k hold SERVER COUNT SOURCES [--deflate] [--offset K] [--concurrency C] [--hold SECONDS]
//! connections_100k echo URL [--deflate]
//! ```
//!
//! `hold` opens COUNT connections to SERVER (`host:port`, e.g. the `tokio_echo_server`
//! example), each bound before it connects to one of the SOURCES (a comma-separated list of
//! loopback addresses such as `127.0.0.2,127.0.0.3`; connection `i` uses source
//! `(K + i) % len`), so that every source address brings its own ephemeral port range. At most
//! C (default 256) handshakes are in flight at once, so the server's accept backlog does not
//! overflow. The handshake is written by hand with a fixed key and the 101 response is checked
//! (status, `Sec-WebSocket-Accept`; with `--deflate` the request carries Chromium's offer,
//! `permessage-deflate; client_max_window_bits`, and the response must accept it; without, the
//! response must not name an extension). A connection then stays idle but alive: it keeps
//! reading and answers every ping with a pong, as a real client does, while holding about
//! 300 bytes of its own. When all are open (or failed) it prints one line to stdout,
//! `open OPENED FAILED RETRIES SECONDS`. The line `message` on stdin makes every connection
//! send one 100-byte text message (compressed, with `--deflate`) and read its echo, so that the
//! server's per-connection state after traffic can be measured too; then it prints
//! `messaged ECHOES OF_OPENED SECONDS compressed=COMPRESSED_ECHOES`. It closes them all (a close frame, then the server's
//! close and the end of the stream) when any other line or the end of input arrives on stdin,
//! or after `--hold` seconds (default 900), then prints `closed CLEAN OF_OPENED SECONDS
//! pongs=PONGS` and exits (0 when all opened and all closed cleanly).
//!
//! `echo` is the normal client: wsproto's own `connect` to URL (with permessage-deflate offered
//! when `--deflate`, and then required), a text message of CJK and emoji sent and its echo
//! checked, a clean close. It prints `echo ok ...` and exits 0, or explains and exits 1. Every
//! wait in both modes has a timeout.

use std::io::{self, BufRead};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::timeout;
use wsproto::Config;
use wsproto::deflate::DeflateConfig;
use wsproto::io::Message;
use wsproto::io::tokio::connect;

/// RFC 6455's sample key and its accept value (section 1.3). Every connection sends the same:
/// the server does not care, and the client need not hash anything.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// Chromium's offer.
const OFFER: &str = "permessage-deflate; client_max_window_bits";
/// One attempt to connect and finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts per connection (a refused or timed-out connect is tried again after a pause).
const ATTEMPTS: u32 = 3;
/// How long all the connections may take to open.
const OPEN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the closing handshakes may take, all together.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);
/// The phases of `hold`, in order.
const IDLE: u8 = 0;
const MESSAGE: u8 = 1;
const CLOSE: u8 = 2;
/// Frames the idle client reads: control frames (at most 125 bytes of payload) fit whole.
const BUF: usize = 256;

fn usage() -> ! {
    eprintln!(
        "usage: connections_100k hold SERVER COUNT SOURCES [--deflate] [--offset K] \
         [--concurrency C] [--hold SECONDS]\n       \
         connections_100k echo URL [--deflate]"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = match args.first().map(String::as_str) {
        Some("hold") => runtime.block_on(hold(parse_hold(&args[1..]))),
        Some("echo") => runtime.block_on(echo(&args[1..])),
        _ => usage(),
    };
    // Do not wait for the stdin thread.
    std::process::exit(code);
}

struct Hold {
    server: SocketAddr,
    count: usize,
    sources: Vec<IpAddr>,
    deflate: bool,
    offset: usize,
    concurrency: usize,
    hold: Duration,
}

fn parse_hold(args: &[String]) -> Hold {
    let (server, count, sources) = match args {
        [s, c, src, ..] => (s, c, src),
        _ => usage(),
    };
    let number =
        |s: Option<&String>| -> usize { s.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()) };
    let mut hold = Hold {
        server: server.parse().unwrap_or_else(|_| usage()),
        count: number(Some(count)),
        sources: sources
            .split(',')
            .map(|s| s.parse().unwrap_or_else(|_| usage()))
            .collect(),
        deflate: false,
        offset: 0,
        concurrency: 256,
        hold: Duration::from_secs(900),
    };
    let mut rest = args[3..].iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--deflate" => hold.deflate = true,
            "--offset" => hold.offset = number(rest.next()),
            "--concurrency" => hold.concurrency = number(rest.next()).max(1),
            "--hold" => hold.hold = Duration::from_secs(number(rest.next()) as u64),
            _ => usage(),
        }
    }
    hold
}

#[derive(Default)]
struct Counts {
    opened: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    closed_clean: AtomicU64,
    echoes: AtomicU64,
    compressed_echoes: AtomicU64,
    pongs: AtomicU64,
}

async fn hold(args: Hold) -> i32 {
    let counts = Arc::new(Counts::default());
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let (phase_tx, phase_rx) = watch::channel(IDLE);
    let request: Arc<[u8]> = handshake_request(args.server, args.deflate).into();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let source = args.sources[(args.offset + i) % args.sources.len()];
        let (counts, permits, request) = (counts.clone(), permits.clone(), request.clone());
        let mut phase_rx = phase_rx.clone();
        let (server, deflate) = (args.server, args.deflate);
        tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await.expect("never closed");
            let stream = match open(source, server, &request, deflate, &counts).await {
                Ok(stream) => stream,
                Err(e) => {
                    if counts.failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("connection from {source} failed: {e}");
                    }
                    return;
                }
            };
            drop(permit);
            counts.opened.fetch_add(1, Ordering::Relaxed);
            match idle(stream, &mut phase_rx, deflate, &counts).await {
                Ok(true) => {
                    counts.closed_clean.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(e) => eprintln!("connection from {source}: {e}"),
            }
        }));
    }
    // Wait until every connection has opened or failed.
    let deadline = started + OPEN_TIMEOUT;
    loop {
        let done = counts.opened.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed);
        if done as usize >= args.count || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let opened = counts.opened.load(Ordering::Relaxed);
    println!(
        "open {opened} {} {} {:.2}",
        counts.failed.load(Ordering::Relaxed),
        counts.retries.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );

    // Hold until told (`message`, then another line or the end of stdin) or until --hold runs
    // out.
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    let held = Instant::now();
    let mut phase = IDLE;
    while phase != CLOSE {
        let left = args.hold.saturating_sub(held.elapsed());
        phase = match timeout(left, line_rx.recv()).await {
            Ok(Some(line)) if line.trim() == "message" && phase == IDLE => MESSAGE,
            Ok(Some(line)) if line.trim() == "message" => phase,
            _ => CLOSE,
        };
        let _ = phase_tx.send(phase);
        if phase == MESSAGE {
            // Every open connection sends one message and reads its echo.
            let sent = Instant::now();
            while counts.echoes.load(Ordering::Relaxed) < opened && sent.elapsed() < CLOSE_TIMEOUT {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!(
                "messaged {} {opened} {:.2} compressed={}",
                counts.echoes.load(Ordering::Relaxed),
                sent.elapsed().as_secs_f64(),
                counts.compressed_echoes.load(Ordering::Relaxed)
            );
        }
    }

    let closing = Instant::now();
    let all = async {
        for task in tasks {
            let _ = task.await;
        }
    };
    let finished = timeout(CLOSE_TIMEOUT, all).await.is_ok();
    let clean = counts.closed_clean.load(Ordering::Relaxed);
    println!(
        "closed {clean} {opened} {:.2} pongs={}{}",
        closing.elapsed().as_secs_f64(),
        counts.pongs.load(Ordering::Relaxed),
        if finished { "" } else { " (close timed out)" }
    );
    i32::from(opened as usize != args.count || clean != opened)
}

fn handshake_request(server: SocketAddr, deflate: bool) -> Vec<u8> {
    let extensions = if deflate {
        format!("Sec-WebSocket-Extensions: {OFFER}\r\n")
    } else {
        String::new()
    };
    format!(
        "GET / HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
    )
    .into_bytes()
}

/// Connects from `source` and completes the handshake, trying again after a refused or
/// timed-out attempt.
async fn open(
    source: IpAddr,
    server: SocketAddr,
    request: &[u8],
    deflate: bool,
    counts: &Counts,
) -> io::Result<TcpStream> {
    let mut attempt = 1;
    loop {
        let result = match timeout(
            HANDSHAKE_TIMEOUT,
            handshake(source, server, request, deflate),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake timed out",
            )),
        };
        match result {
            Err(e) if attempt < ATTEMPTS && e.kind() != io::ErrorKind::InvalidData => {
                counts.retries.fetch_add(1, Ordering::Relaxed);
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}

async fn handshake(
    source: IpAddr,
    server: SocketAddr,
    request: &[u8],
    deflate: bool,
) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let mut stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    stream.write_all(request).await?;
    // The response head; the server sends nothing after it until it pings.
    let mut head = [0; 1024];
    let mut len = 0;
    while !head[..len].ends_with(b"\r\n\r\n") {
        if len == head.len() {
            return Err(invalid("response head too long"));
        }
        // One byte at a time: the handshake must not swallow a frame that follows it.
        let n = stream.read(&mut head[len..len + 1]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed during the handshake",
            ));
        }
        len += n;
    }
    check_response(&head[..len], deflate)?;
    Ok(stream)
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn check_response(head: &[u8], deflate: bool) -> io::Result<()> {
    let head = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(invalid(format!("handshake refused: {status}")));
    }
    let mut accept = None;
    let mut extensions = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("sec-websocket-accept") {
                accept = Some(value);
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                extensions.push(value);
            }
        }
    }
    if accept != Some(ACCEPT) {
        return Err(invalid(format!("wrong Sec-WebSocket-Accept {accept:?}")));
    }
    let accepted = extensions
        .iter()
        .any(|e| e.split(';').next().map(str::trim) == Some("permessage-deflate"));
    match (deflate, accepted) {
        (true, false) => Err(invalid(format!(
            "permessage-deflate offered but not accepted: {extensions:?}"
        ))),
        (false, _) if !extensions.is_empty() => Err(invalid(format!(
            "extensions in the response though none was offered: {extensions:?}"
        ))),
        _ => Ok(()),
    }
}

/// Holds one connection: reads frames, answers pings, and when told to, closes.
/// `Ok(true)` after a clean close (ours answered, the stream ended), `Ok(false)` when the server
/// closed first.
async fn idle(
    mut stream: TcpStream,
    phase: &mut watch::Receiver<u8>,
    deflate: bool,
    counts: &Counts,
) -> io::Result<bool> {
    let mut frames = Frames::default();
    let mut next_phase = MESSAGE;
    loop {
        let n = tokio::select! {
            _ = phase.wait_for(|p| *p >= next_phase) => None,
            read = stream.read(frames.spare()) => Some(read?),
        };
        let Some(n) = n else {
            if *phase.borrow() == CLOSE {
                break;
            }
            stream.write_all(&data_frame(deflate)).await?;
            next_phase = CLOSE;
            continue;
        };
        if n == 0 {
            return Ok(false);
        }
        frames.filled(n);
        while let Some(frame) = frames.next()? {
            match frame {
                Frame::Ping(payload) => {
                    stream.write_all(&client_frame(0xA, &payload)).await?;
                    counts.pongs.fetch_add(1, Ordering::Relaxed);
                }
                Frame::Close(payload) => {
                    stream.write_all(&client_frame(0x8, &payload)).await?;
                    return Ok(false);
                }
                Frame::Data { compressed } => {
                    counts.echoes.fetch_add(1, Ordering::Relaxed);
                    if compressed {
                        counts.compressed_echoes.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Frame::Other => {}
            }
        }
    }
    // Our close (1000), then read until the server's close and the end of the stream.
    stream
        .write_all(&client_frame(0x8, &1000u16.to_be_bytes()))
        .await?;
    let drain = async {
        let mut sink = [0; BUF];
        loop {
            if stream.read(&mut sink).await? == 0 {
                return io::Result::Ok(());
            }
        }
    };
    timeout(HANDSHAKE_TIMEOUT, drain)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "close timed out"))??;
    Ok(true)
}

/// A masked client frame (FIN set) with a payload of at most 125 bytes.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// The one message a connection sends when told to (`message` on stdin): 100 bytes of text,
/// so that the server's echo is over its compression threshold (64 bytes) and is compressed.
/// With permessage-deflate the client sends it compressed too (RSV1 set), as a stored, not
/// compressed, deflate block, which needs no compressor here: the server's inflater and
/// deflater both come into use.
fn data_frame(deflate: bool) -> Vec<u8> {
    let text = [b'a'; 100];
    let (rsv1, payload) = if deflate {
        // What a sync flush makes of it without compressing: a non-final stored block with the
        // text, then an empty one (00 00 00 ff ff) of which the sender cuts the 00 00 ff ff
        // that the receiver appends again (RFC 7692 section 7.2.1).
        let len = (text.len() as u16).to_le_bytes();
        let mut payload = vec![0x00, len[0], len[1], !len[0], !len[1]];
        payload.extend_from_slice(&text);
        payload.push(0x00);
        (0x40, payload)
    } else {
        (0, text.to_vec())
    };
    let mut frame = client_frame(0x1, &payload);
    frame[0] |= rsv1;
    frame
}

enum Frame {
    Ping(Vec<u8>),
    Close(Vec<u8>),
    /// The last frame of a data message; RSV1 set on its first frame (for the one-frame echoes
    /// here, on this one).
    Data {
        compressed: bool,
    },
    Other,
}

/// The server's frames, parsed from a small fixed buffer. Data frames (which an idle client
/// should not get) are skipped however long they are.
struct Frames {
    buf: [u8; BUF],
    len: usize,
    /// Bytes of a data frame's payload still to skip.
    skip: u64,
}

impl Default for Frames {
    fn default() -> Self {
        Frames {
            buf: [0; BUF],
            len: 0,
            skip: 0,
        }
    }
}

impl Frames {
    fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    fn filled(&mut self, n: usize) {
        self.len += n;
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    fn next(&mut self) -> io::Result<Option<Frame>> {
        if self.skip > 0 {
            let n = self.skip.min(self.len as u64) as usize;
            self.consume(n);
            self.skip -= n as u64;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        if self.len < 2 {
            return Ok(None);
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        if b1 & 0x80 != 0 {
            return Err(invalid("masked frame from the server"));
        }
        let opcode = b0 & 0x0f;
        let (header, payload_len) = match b1 & 0x7f {
            126 if self.len >= 4 => (4, u64::from(u16::from_be_bytes([self.buf[2], self.buf[3]]))),
            127 if self.len >= 10 => {
                let mut bytes = [0; 8];
                bytes.copy_from_slice(&self.buf[2..10]);
                (10, u64::from_be_bytes(bytes))
            }
            126 | 127 => return Ok(None),
            n => (2, u64::from(n)),
        };
        if opcode >= 0x8 {
            if payload_len > 125 {
                return Err(invalid("control frame longer than 125 bytes"));
            }
            let end = header + payload_len as usize;
            if self.len < end {
                return Ok(None);
            }
            let payload = self.buf[header..end].to_vec();
            self.consume(end);
            return Ok(Some(match opcode {
                0x9 => Frame::Ping(payload),
                0x8 => Frame::Close(payload),
                _ => Frame::Other,
            }));
        }
        self.consume(header);
        self.skip = payload_len;
        Ok(Some(if b0 & 0x80 != 0 {
            Frame::Data {
                compressed: b0 & 0x40 != 0,
            }
        } else {
            Frame::Other
        }))
    }
}

/// The normal client: wsproto's `connect`, a text message of CJK and emoji, its echo.
async fn echo(args: &[String]) -> i32 {
    let (url, deflate) = match args {
        [url] => (url, false),
        [url, flag] if flag == "--deflate" => (url, true),
        _ => usage(),
    };
    match timeout(Duration::from_secs(30), echo_once(url, deflate)).await {
        Ok(Ok(summary)) => {
            println!("echo ok: {summary}");
            0
        }
        Ok(Err(e)) => {
            println!("echo FAILED: {e}");
            1
        }
        Err(_) => {
            println!("echo FAILED: no echo within 30 s");
            1
        }
    }
}

async fn echo_once(url: &str, deflate: bool) -> Result<String, Box<dyn std::error::Error>> {
    let config = if deflate {
        Config::default().deflate(DeflateConfig::default())
    } else {
        Config::default()
    };
    let (mut ws, _response) = connect(url, config).await?;
    let negotiated = ws.connection().deflate_params().is_some();
    if negotiated != deflate {
        return Err(
            format!("permessage-deflate negotiated: {negotiated}, wanted {deflate}").into(),
        );
    }
    // Longer than the default compression threshold (64 bytes), so it is compressed when on.
    let text = "こんにちは、世界 🌏 你好，世界 🦀 안녕하세요 👋🏽 ".repeat(4);
    ws.send(Message::text(text.clone())).await?;
    let answer = ws.recv().await?;
    match answer {
        Some(Message::Text(echoed)) if *echoed == *text => {}
        other => return Err(format!("wrong echo: {other:?}").into()),
    }
    ws.close(wsproto::CloseCode::NORMAL, "").await?;
    while ws.recv().await?.is_some() {}
    Ok(format!(
        "{} bytes of CJK and emoji echoed intact, permessage-deflate {}",
        text.len(),
        if negotiated { "on" } else { "off" }
    ))
}
