//! Embedded style: the core as a `default-features = false` (`#![no_std]` + `alloc`) firmware
//! would use it. Everything but `main` uses only `core` and `alloc`: no clock, no OS entropy,
//! no sockets, no threads.
//!
//! - each side reads into a fixed 512-byte buffer (messages larger than it are reassembled by
//!   the core across reads);
//! - time is a `u32` millisecond tick counter, handed to the core as [`Instant::from_millis`];
//! - masking keys are seeded from a caller-supplied source: a fixed array standing in for a
//!   hardware RNG;
//! - the "link" is an in-memory byte pipe of 256 bytes per direction (think UART FIFO), so
//!   frames cross it in pieces.
//!
//! A client and a server hold a whole conversation over it: handshake, messages both ways, a
//! ping, a keepalive ping from the server's timer, and the close handshake.
//! `cargo run --example embedded` prints the transcript.

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use wsproto::handshake::Accept;
use wsproto::{ClientRequest, CloseCode, Config, Connection, Event, Instant, Seed, State};

/// A one-way byte FIFO of fixed capacity that can be closed by the writer.
pub struct Pipe<const N: usize> {
    buf: [u8; N],
    start: usize,
    len: usize,
    closed: bool,
}

impl<const N: usize> Pipe<N> {
    /// An empty, open pipe.
    pub const fn new() -> Self {
        Pipe {
            buf: [0; N],
            start: 0,
            len: 0,
            closed: false,
        }
    }

    /// Copies in as much of `data` as fits; returns how much.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(N - self.len);
        for (i, &b) in data[..n].iter().enumerate() {
            self.buf[(self.start + self.len + i) % N] = b;
        }
        self.len += n;
        n
    }

    /// Copies out up to `out.len()` bytes; `None` once the pipe is closed and empty.
    pub fn read(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.len == 0 && self.closed {
            return None;
        }
        let n = out.len().min(self.len);
        for (i, b) in out[..n].iter_mut().enumerate() {
            *b = self.buf[(self.start + i) % N];
        }
        self.start = (self.start + n) % N;
        self.len -= n;
        Some(n)
    }
}

impl<const N: usize> Default for Pipe<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Stands in for a hardware true-random-number generator peripheral.
pub struct HardwareRng {
    pool: [u8; 64],
    next: usize,
}

impl HardwareRng {
    /// A fixed pool; real firmware reads the TRNG's data register instead.
    pub const fn new() -> Self {
        let mut pool = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            pool[i] = (i as u8).wrapping_mul(167).wrapping_add(13);
            i += 1;
        }
        HardwareRng { pool, next: 0 }
    }

    /// 32 fresh bytes for one connection's seed.
    pub fn seed(&mut self) -> Seed {
        let mut seed = [0u8; 32];
        for byte in &mut seed {
            *byte = self.pool[self.next % 64];
            self.next += 1;
        }
        Seed(seed)
    }
}

impl Default for HardwareRng {
    fn default() -> Self {
        Self::new()
    }
}

/// One end: a connection and its fixed receive buffer.
pub struct Node {
    /// The sans-IO connection.
    pub conn: Connection,
    rx: [u8; 512],
    rx_len: usize,
}

impl Node {
    fn new(conn: Connection) -> Self {
        Node {
            conn,
            rx: [0; 512],
            rx_len: 0,
        }
    }

    /// Moves queued output into the pipe, as much as fits.
    fn send<const N: usize>(&mut self, pipe: &mut Pipe<N>) {
        while !self.conn.transmit().is_empty() {
            let n = pipe.write(self.conn.transmit());
            if n == 0 {
                break;
            }
            self.conn.advance_transmit(n);
        }
    }

    /// Feeds what the pipe holds to the core, one buffer's worth at a time.
    fn receive<const N: usize>(
        &mut self,
        now: Instant,
        pipe: &mut Pipe<N>,
        mut on_event: impl FnMut(&mut Connection, Event<'_>),
    ) -> Result<(), wsproto::Error> {
        loop {
            let Some(n) = pipe.read(&mut self.rx[self.rx_len..]) else {
                return self.conn.recv_eof(now);
            };
            self.rx_len += n;
            let mut at = 0;
            loop {
                let recv = self.conn.recv(now, &mut self.rx[at..self.rx_len])?;
                at += recv.consumed;
                match recv.event {
                    Some(event) => on_event(&mut self.conn, event),
                    None if recv.consumed == 0 => break,
                    None => {}
                }
            }
            self.rx.copy_within(at..self.rx_len, 0);
            self.rx_len -= at;
            if n == 0 {
                return Ok(());
            }
        }
    }

    /// Reads the core's timer once per tick.
    fn timers(&mut self, now: Instant) -> Result<(), wsproto::Error> {
        match self.conn.poll_timeout() {
            Some(at) if at <= now => self.conn.handle_timeout(now),
            _ => Ok(()),
        }
    }
}

/// A control payload as text if it is, else as bytes.
fn shown(bytes: &[u8]) -> String {
    match core::str::from_utf8(bytes) {
        Ok(text) if !text.contains(char::is_control) => format!("{text:?}"),
        _ => format!("{bytes:?}"),
    }
}

/// What each side saw, and how long it took.
#[derive(Debug)]
pub struct Transcript {
    /// The client's events, in order.
    pub client: Vec<String>,
    /// The server's events, in order.
    pub server: Vec<String>,
    /// The tick counter (ms) when both sides had ended.
    pub elapsed_ms: u32,
    /// Final states.
    pub states: (State, State),
}

/// A reading big enough to need several 512-byte buffers and several trips through the pipe.
pub fn big_reading() -> Vec<u8> {
    (0..1500u32).map(|i| (i % 251) as u8).collect()
}

/// Runs the whole conversation, 10 ms per tick.
pub fn conversation() -> Result<Transcript, String> {
    let mut rng = HardwareRng::new();
    let mut tick_ms: u32 = 0;
    let now = |ms: u32| Instant::from_millis(u64::from(ms));

    let config = Config::default()
        .max_message_size(4096)
        .handshake_timeout(Duration::from_secs(2))
        .close_timeout(Duration::from_secs(1));
    let request = ClientRequest::new("sensor.local", "/telemetry");
    let client = Connection::client(config.clone(), request, rng.seed(), now(tick_ms))
        .map_err(|e| format!("{e}"))?;
    // The server pings after one idle second, and fails the link if no pong comes in two.
    let server_config = config.keepalive(Duration::from_secs(1), Duration::from_secs(2));
    let server = Connection::server(server_config, now(tick_ms));
    let (mut client, mut server) = (Node::new(client), Node::new(server));
    let (mut to_server, mut to_client) = (Pipe::<256>::new(), Pipe::<256>::new());
    let (mut client_log, mut server_log) = (Vec::new(), Vec::new());

    while tick_ms < 10_000 {
        let t = now(tick_ms);
        client.send(&mut to_server);
        server.send(&mut to_client);
        server
            .receive(t, &mut to_server, |conn, event| match event {
                Event::Request(req) => {
                    server_log.push(format!("request {}", req.path()));
                    let _ = conn.accept(t, &Accept::new());
                }
                Event::Message(msg) => {
                    server_log.push(format!(
                        "message {:?} {} bytes",
                        msg.kind,
                        msg.payload.len()
                    ));
                    let _ = conn.send_text(&format!("ack {} bytes", msg.payload.len()));
                }
                Event::Ping(p) => server_log.push(format!("ping {}", shown(p.as_bytes()))),
                Event::Pong(p) => server_log.push(format!("pong {}", shown(p.as_bytes()))),
                Event::Close(f) => server_log.push(format!("close {} {}", f.code().0, f.reason())),
                _ => {}
            })
            .map_err(|e| format!("server: {e}"))?;
        client
            .receive(t, &mut to_client, |conn, event| match event {
                Event::Connected(resp) => {
                    client_log.push(format!("connected {}", resp.status()));
                    let _ = conn.send_text("temp=21.5");
                }
                Event::Message(msg) => {
                    let text = msg.as_text().unwrap_or_default();
                    client_log.push(format!("message {text}"));
                    match text {
                        "ack 9 bytes" => {
                            let _ = conn.send_binary(&big_reading());
                        }
                        _ => {
                            let _ = conn.ping(b"still there?");
                        }
                    }
                }
                Event::Pong(p) => client_log.push(format!("pong {}", shown(p.as_bytes()))),
                Event::Ping(p) => {
                    // The core already queued the pong; the keepalive proved the link.
                    client_log.push(format!("ping {}", shown(p.as_bytes())));
                    let _ = conn.close(t, CloseCode::NORMAL, "going to sleep");
                }
                Event::Close(f) => client_log.push(format!("close {} {}", f.code().0, f.reason())),
                _ => {}
            })
            .map_err(|e| format!("client: {e}"))?;
        server.timers(t).map_err(|e| format!("server timer: {e}"))?;
        client.timers(t).map_err(|e| format!("client timer: {e}"))?;
        client.send(&mut to_server);
        server.send(&mut to_client);
        // The server ends the link first (RFC 6455 7.1.1); the client then sees end of stream.
        if server.conn.wants_transport_close() {
            to_client.closed = true;
        }
        if client.conn.wants_transport_close() {
            to_server.closed = true;
        }
        if to_client.closed && to_server.closed {
            return Ok(Transcript {
                client: client_log,
                server: server_log,
                elapsed_ms: tick_ms,
                states: (client.conn.state(), server.conn.state()),
            });
        }
        tick_ms = tick_ms.wrapping_add(10);
    }
    Err("the conversation did not finish in 10 s of ticks".into())
}

#[allow(dead_code)]
fn main() -> Result<(), String> {
    let transcript = conversation()?;
    for line in &transcript.client {
        println!("client: {line}");
    }
    for line in &transcript.server {
        println!("server: {line}");
    }
    println!(
        "done after {} ms of ticks: {:?}",
        transcript.elapsed_ms, transcript.states
    );
    Ok(())
}
