//! A game server and its clients in ONE thread: a fixed 60 Hz tick over non-blocking std
//! sockets, no async runtime, no extra threads, only the sans-IO core ([`Connection`]).
//!
//! `cargo run --release --example game_loop -- [ADDR] [--ticks N] [--clients K]`
//! (default `127.0.0.1:9003`, 3 clients, run until killed). Each tick the server broadcasts the
//! shared state (every player's position, with the tick number) to all players; each client
//! answers each state with an input (a move) that the server applies. Keepalive and the
//! handshake and close timeouts come from the core's timers, read once per tick. With
//! `--ticks N` it stops after N game ticks, closes every connection and prints a summary.
//! Other WebSocket clients may join the game at ADDR too.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use wsproto::handshake::Accept;
use wsproto::{ClientRequest, CloseCode, Config, Connection, Event, Instant, Seed};

/// One tick at 60 Hz.
pub const TICK: Duration = Duration::from_nanos(1_000_000_000 / 60);

/// What to run.
pub struct Options {
    /// Where the server listens (port 0: any free port).
    pub addr: String,
    /// How many clients this process runs.
    pub clients: usize,
    /// Stop after this many game ticks (`None`: run forever).
    pub ticks: Option<u64>,
}

/// What each local client saw.
#[derive(Debug, Default, Clone)]
pub struct ClientStats {
    /// State updates received.
    pub updates: u64,
    /// Ticks of the first and last update.
    pub first: u64,
    /// The last tick seen.
    pub last: u64,
    /// Every update was the tick after the one before.
    pub in_order: bool,
    /// The close handshake completed and the transport closed without error.
    pub clean_close: bool,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Summary {
    /// Game ticks played.
    pub ticks: u64,
    /// Inputs the server applied, per player.
    pub inputs: Vec<u64>,
    /// Final positions, per player.
    pub positions: Vec<(i16, i16)>,
    /// Per local client.
    pub clients: Vec<ClientStats>,
    /// Connections that failed (protocol error, timeout, I/O error).
    pub failures: u64,
}

// ---- the I/O glue: everything the core leaves to the caller ----

/// A connection and its non-blocking socket.
struct Peer {
    stream: TcpStream,
    conn: Connection,
    buf: Box<[u8; 16 << 10]>,
    len: usize,
    /// Server side: the player this connection controls. Client side: the local client index.
    id: usize,
    done: bool,
}

impl Peer {
    fn new(stream: TcpStream, conn: Connection, id: usize) -> io::Result<Peer> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(Peer {
            stream,
            conn,
            buf: Box::new([0; 16 << 10]),
            len: 0,
            id,
            done: false,
        })
    }

    /// Reads what the socket has and hands each event to `on_event`. Never blocks.
    fn poll(
        &mut self,
        now: Instant,
        mut on_event: impl FnMut(&mut Connection, Event<'_>),
    ) -> Result<(), String> {
        loop {
            let n = match self.stream.read(&mut self.buf[self.len..]) {
                Ok(0) => return self.conn.recv_eof(now).map_err(|e| e.to_string()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e.to_string()),
            };
            self.len += n;
            let mut at = 0;
            loop {
                let recv = self
                    .conn
                    .recv(now, &mut self.buf[at..self.len])
                    .map_err(|e| e.to_string())?;
                at += recv.consumed;
                match recv.event {
                    Some(event) => on_event(&mut self.conn, event),
                    None if recv.consumed == 0 => break,
                    None => {}
                }
            }
            self.buf.copy_within(at..self.len, 0);
            self.len -= at;
            if n == 0 {
                return Ok(());
            }
        }
    }

    /// Acts on the core's timers (once per tick), writes its output, and reports whether the
    /// connection is over (then the socket is shut down).
    fn tick(&mut self, now: Instant) -> Result<bool, String> {
        if self.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.conn.handle_timeout(now).map_err(|e| e.to_string())?;
        }
        while !self.conn.transmit().is_empty() {
            match self.stream.write(self.conn.transmit()) {
                Ok(n) => self.conn.advance_transmit(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        if self.conn.wants_transport_close() {
            let _ = self.stream.shutdown(Shutdown::Both);
            self.done = true;
        }
        Ok(self.done)
    }
}

// ---- the game ----

fn encode_state(tick: u64, positions: &[(i16, i16)]) -> Vec<u8> {
    let mut out = tick.to_be_bytes().to_vec();
    for &(x, y) in positions {
        out.extend_from_slice(&x.to_be_bytes());
        out.extend_from_slice(&y.to_be_bytes());
    }
    out
}

fn decode_tick(state: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(state.get(..8)?.try_into().ok()?))
}

/// A client's move for a tick: round and round in a small square.
fn input_for(client: usize, tick: u64) -> [u8; 2] {
    match (tick / 10 + client as u64) % 4 {
        0 => [1, 0],
        1 => [0, 1],
        2 => [255, 0],
        _ => [0, 255],
    }
}

fn config() -> Config {
    Config::default()
        .keepalive(Duration::from_secs(1), Duration::from_secs(2))
        .handshake_timeout(Duration::from_secs(5))
        .close_timeout(Duration::from_secs(1))
        .max_message_size(64 << 10)
}

/// Runs the server and `options.clients` clients in this thread until the game ends.
pub fn run(options: &Options) -> io::Result<Summary> {
    let listener = TcpListener::bind(&options.addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    eprintln!(
        "game_loop: server on ws://{addr}/game with {} local clients",
        options.clients
    );
    let epoch = StdInstant::now();
    let now = || Instant::from_duration(epoch.elapsed());

    let mut clients = Vec::new();
    for i in 0..options.clients {
        let seed = Seed::from_os().map_err(|e| io::Error::other(e.to_string()))?;
        let request = ClientRequest::new(addr.to_string(), "/game");
        let conn = Connection::client(config(), request, seed, now()).map_err(io::Error::other)?;
        // A loopback connect completes in the kernel's backlog; the socket is made
        // non-blocking right after.
        clients.push(Peer::new(TcpStream::connect(addr)?, conn, i)?);
    }
    let mut stats = vec![
        ClientStats {
            in_order: true,
            ..ClientStats::default()
        };
        options.clients
    ];
    let mut players: Vec<Peer> = Vec::new();
    let mut positions: Vec<(i16, i16)> = Vec::new();
    let mut inputs: Vec<u64> = Vec::new();
    let mut failures = 0;
    let mut tick = 0u64;
    let mut started = false;
    let mut ending = false;
    let mut drain_ticks = 0;
    let mut next = StdInstant::now();

    loop {
        let now = now();
        // New players.
        if !ending {
            while let Ok((stream, _)) = listener.accept() {
                positions.push((0, 0));
                inputs.push(0);
                players.push(Peer::new(
                    stream,
                    Connection::server(config(), now),
                    positions.len() - 1,
                )?);
            }
        }
        // Server side: requests and inputs.
        for p in &mut players {
            let (id, pos, count) = (p.id, &mut positions, &mut inputs);
            let result = p.poll(now, |conn, event| match event {
                Event::Request(_) => {
                    let _ = conn.accept(now, &Accept::new());
                }
                Event::Message(msg) => {
                    if let [dx, dy] = msg.payload[..] {
                        pos[id].0 = pos[id].0.wrapping_add(i16::from(dx as i8));
                        pos[id].1 = pos[id].1.wrapping_add(i16::from(dy as i8));
                        count[id] += 1;
                    }
                }
                _ => {}
            });
            if result.is_err() {
                failures += 1;
                p.done = true;
            }
        }
        // Client side: states in, inputs out.
        for c in &mut clients {
            let stat = &mut stats[c.id];
            let id = c.id;
            let result = c.poll(now, |conn, event| {
                if let Event::Message(msg) = event {
                    let Some(t) = decode_tick(&msg.payload) else {
                        return;
                    };
                    if stat.updates == 0 {
                        stat.first = t;
                    } else if t != stat.last + 1 {
                        stat.in_order = false;
                    }
                    stat.updates += 1;
                    stat.last = t;
                    let _ = conn.send_binary(&input_for(id, t));
                }
            });
            match result {
                Ok(())
                    if c.conn.state() == wsproto::State::Closed
                        && c.conn.close_received().is_some() =>
                {
                    stat.clean_close = true;
                }
                Ok(()) => {}
                Err(_) => {
                    failures += 1;
                    c.done = true;
                }
            }
        }
        // The game: once everyone is in, one state per tick to every open player.
        let open = players
            .iter()
            .filter(|p| p.conn.state() == wsproto::State::Open)
            .count();
        started |= open >= options.clients;
        if started && !ending {
            tick += 1;
            let state = encode_state(tick, &positions);
            for p in players
                .iter_mut()
                .filter(|p| p.conn.state() == wsproto::State::Open)
            {
                let _ = p.conn.send_binary(&state);
            }
            if options.ticks.is_some_and(|n| tick >= n) {
                ending = true;
                for p in &mut players {
                    let _ = p.conn.close(now, CloseCode::NORMAL, "game over");
                }
            } else if tick.is_multiple_of(60) {
                eprintln!("tick {tick}: {open} players, positions {positions:?}");
            }
        }
        // Timers and output, once per tick; drop finished connections.
        for peer in players.iter_mut().chain(clients.iter_mut()) {
            if peer.tick(now).is_err() {
                failures += 1;
                peer.done = true;
            }
        }
        players.retain(|p| !p.done);
        clients.retain(|c| !c.done);
        if ending {
            drain_ticks += 1;
            if (players.is_empty() && clients.is_empty()) || drain_ticks > 5 * 60 {
                break;
            }
        } else if !started && epoch.elapsed() > Duration::from_secs(10) {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "players did not all join in 10 s",
            ));
        }
        // Fixed tick: sleep until the next one.
        next += TICK;
        std::thread::sleep(next.saturating_duration_since(StdInstant::now()));
    }
    Ok(Summary {
        ticks: tick,
        inputs,
        positions,
        clients: stats,
        failures,
    })
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    let mut options = Options {
        addr: "127.0.0.1:9003".into(),
        clients: 3,
        ticks: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> io::Result<u64> {
            args.next().and_then(|v| v.parse().ok()).ok_or_else(|| {
                io::Error::new(ErrorKind::InvalidInput, format!("{name} needs a number"))
            })
        };
        match arg.as_str() {
            "--ticks" => options.ticks = Some(number("--ticks")?),
            "--clients" => options.clients = number("--clients")? as usize,
            _ => options.addr = arg,
        }
    }
    let summary = run(&options)?;
    println!("ticks played: {}", summary.ticks);
    for (i, c) in summary.clients.iter().enumerate() {
        println!(
            "client {i}: {} updates (ticks {}..={}), in order: {}, clean close: {}",
            c.updates, c.first, c.last, c.in_order, c.clean_close
        );
    }
    println!("inputs applied per player: {:?}", summary.inputs);
    println!("final positions: {:?}", summary.positions);
    println!("failed connections: {}", summary.failures);
    let ok = summary.failures == 0
        && summary
            .clients
            .iter()
            .all(|c| c.in_order && c.updates == summary.ticks && c.clean_close);
    if ok {
        Ok(())
    } else {
        Err(io::Error::other("some client missed updates or failed"))
    }
}
