//! Load test: many echo round trips at once, against a WebSocket or a raw TCP echo server.
//!
//! ```text
//! cargo run --release -p wsproto-benches --example load_test -- CONNECTIONS URL SIZE [SECONDS]
//! cargo run --release -p wsproto-benches --example load_test -- --raw CONNECTIONS ADDR SIZE [SECONDS]
//! cargo run --release -p wsproto-benches --example load_test -- --idle CONNECTIONS URL [SECONDS]
//! ```
//!
//! Opens CONNECTIONS wsproto tokio clients to URL (e.g. `ws://127.0.0.1:9002/`, the
//! `tokio_echo_server` example). Once all are open, each sends a binary message of SIZE bytes
//! and waits for its echo, again and again (one message in flight per connection), for SECONDS
//! (default 10). Prints round trips per second and payload MB/s (one direction; 1 MB = 10^6
//! bytes).
//!
//! `--raw` is the baseline without WebSocket: plain TCP connections to ADDR (`host:port`; a
//! `ws://` or `tcp://` prefix and any path are ignored), running `raw_echo_server`. Each message
//! is a 4-byte big-endian length and SIZE bytes; the client waits for the same bytes to come
//! back. It measures what the loopback, the kernel and tokio cost, so the WebSocket figures can
//! be read as a fraction of it.
//!
//! `--idle` opens CONNECTIONS WebSocket connections, prints `open`, and holds them idle for
//! SECONDS (default 30) so the server's memory per connection can be read
//! (`docs/benchmarks.md`).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use wsproto::Config;
use wsproto::io::Message;
use wsproto::io::tokio::{MaybeTlsStream, WebSocketStream, connect};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    WebSocket,
    Raw,
    Idle,
}

struct Args {
    mode: Mode,
    connections: usize,
    url: String,
    size: usize,
    seconds: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: load_test [--raw] CONNECTIONS URL SIZE [SECONDS]\n       \
         load_test --idle CONNECTIONS URL [SECONDS]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut mode = Mode::WebSocket;
    let mut rest = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--raw" => mode = Mode::Raw,
            "--idle" => mode = Mode::Idle,
            "-h" | "--help" => usage(),
            _ => rest.push(arg),
        }
    }
    let number = |s: &str| s.parse::<u64>().unwrap_or_else(|_| usage());
    let (connections, url) = match rest.as_slice() {
        [c, u, ..] => (number(c) as usize, u.clone()),
        _ => usage(),
    };
    let (size, seconds) = if mode == Mode::Idle {
        (0, rest.get(2).map_or(30, |s| number(s)))
    } else {
        let size = rest
            .get(2)
            .map(|s| number(s) as usize)
            .unwrap_or_else(|| usage());
        (size, rest.get(3).map_or(10, |s| number(s)))
    };
    if connections == 0 || rest.len() > 4 {
        usage();
    }
    Args {
        mode,
        connections,
        url,
        size,
        seconds,
    }
}

/// `host:port` from `ws://host:port/path`, `tcp://host:port` or `host:port`.
fn host_port(url: &str) -> &str {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("tcp://"))
        .unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

/// Shared by the connection tasks.
struct Shared {
    /// All connections are open; the clock runs from here.
    start: Barrier,
    stop: AtomicBool,
    round_trips: AtomicU64,
}

fn main() -> io::Result<()> {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> io::Result<()> {
    let shared = Arc::new(Shared {
        // The connection tasks and this one.
        start: Barrier::new(args.connections + 1),
        stop: AtomicBool::new(false),
        round_trips: AtomicU64::new(0),
    });
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let shared = shared.clone();
        let (url, size, mode) = (args.url.clone(), args.size, args.mode);
        tasks.push(tokio::spawn(async move {
            match mode {
                Mode::WebSocket => websocket(&url, size, &shared).await,
                Mode::Raw => raw(&url, size, &shared).await,
                Mode::Idle => idle(&url, &shared).await,
            }
        }));
        // Do not flood the listener's accept queue.
        tokio::task::yield_now().await;
    }
    shared.start.wait().await;
    let started = Instant::now();
    if args.mode == Mode::Idle {
        println!(
            "open {} connections; idle for {} s",
            args.connections, args.seconds
        );
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    shared.stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for task in tasks {
        task.await.map_err(io::Error::other)??;
    }
    // Each task counted the round trips it finished before the stop.
    let round_trips = shared.round_trips.load(Ordering::Relaxed);
    if args.mode != Mode::Idle {
        let rate = round_trips as f64 / elapsed;
        let label = if args.mode == Mode::Raw {
            "raw TCP"
        } else {
            "WebSocket"
        };
        println!(
            "{label}: {} connections, {} B messages, {elapsed:.1} s: {round_trips} round trips, \
             {rate:.0} msg/s, {:.2} MB/s",
            args.connections,
            args.size,
            rate * args.size as f64 / 1e6,
        );
    }
    Ok(())
}

/// One WebSocket client: send, wait for the echo, repeat until told to stop.
async fn websocket(url: &str, size: usize, shared: &Shared) -> io::Result<()> {
    let connected = connect(url, Config::default()).await;
    shared.start.wait().await;
    let (mut ws, _response) = connected?;
    let payload = vec![0x5a; size];
    let mut count = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        ws.send(Message::binary(payload.clone())).await?;
        match ws.recv().await? {
            Some(Message::Binary(echo)) if echo.len() == size => {}
            other => return Err(io::Error::other(format!("unexpected echo {other:?}"))),
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        count += 1;
    }
    shared.round_trips.fetch_add(count, Ordering::Relaxed);
    close(ws).await
}

/// Closes the handshake properly, so the server sees a clean end.
async fn close(mut ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> io::Result<()> {
    ws.close(wsproto::CloseCode::NORMAL, "").await?;
    while ws.recv().await?.is_some() {}
    Ok(())
}

/// One raw TCP client: 4-byte length + SIZE bytes out, the same back.
async fn raw(url: &str, size: usize, shared: &Shared) -> io::Result<()> {
    let connected = TcpStream::connect(host_port(url)).await;
    shared.start.wait().await;
    let mut stream = connected?;
    stream.set_nodelay(true)?;
    let len = u32::try_from(size).map_err(io::Error::other)?;
    let mut message = len.to_be_bytes().to_vec();
    message.resize(4 + size, 0x5a);
    let mut echo = vec![0; 4 + size];
    let mut count = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        stream.write_all(&message).await?;
        stream.read_exact(&mut echo).await?;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        count += 1;
    }
    shared.round_trips.fetch_add(count, Ordering::Relaxed);
    Ok(())
}

/// One idle WebSocket connection, held open until told to stop.
async fn idle(url: &str, shared: &Shared) -> io::Result<()> {
    let connected = connect(url, Config::default()).await;
    shared.start.wait().await;
    let (ws, _response) = connected?;
    while !shared.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    close(ws).await
}
