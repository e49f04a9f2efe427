//! A load test for the chat: many clients in rooms, each sending on a timer, every receiver
//! measuring how long each message took to reach it.
//!
//! ```text
//! cargo run --release -p chat --example load -- \
//!     [--nodes ws://127.0.0.1:8080/chat,ws://127.0.0.1:8081/chat] [--clients 10000]
//!     [--room-size 100] [--interval-secs 10] [--duration-secs 60] [--warmup-secs 15]
//!     [--grace-secs 5] [--concurrency 500] [--connect-rate 0] [--sources 1] [--threads N]
//!     [--deflate]
//!     [--pids [NAME=]PID,...]
//! ```
//!
//! `examples/chat/load.sh` starts Redis and two nodes and runs this against them.
//!
//! Client `i` connects to node `i % nodes`, joins room `load-K` with `K = i / room-size` under
//! the name `cI`, and sends one message every `interval-secs`, the first at a random offset
//! within the first interval, so the load is spread evenly. A text is 40 to 80 characters of
//! CJK and emoji with an ASCII marker inside, `|t=MICROS|s=SENDER|`: the sender's clock
//! (microseconds since the Unix epoch) just before the send, which every receiver subtracts
//! from its own clock on arrival. All clients run on this machine, so the two clocks are one.
//!
//! Connects are ramped (`concurrency` handshakes at a time, and with `--connect-rate N` at
//! most N started per second; `--deflate` offers permessage-deflate as browsers do). Once every client has connected
//! or failed, the warmup runs, then the measured window of `duration-secs`; sending stops at
//! its end, and the `grace-secs` after it let the last messages arrive. Figures, one line each
//! and prefixed `load:`:
//!
//! - `sent`: messages sent within the window; `expected`: the deliveries they call for, the
//!   members their room had (this client included) when each was sent;
//! - `delivered`: `message` events received within the window, and `deliveries_per_sec`;
//! - `delivered_of_window`: deliveries of the messages sent within the window, arriving in
//!   the window or the grace after it, and `ratio` = that / `expected`;
//! - latency p50, p99 and max (ms) over those same deliveries, from a log-linear histogram
//!   (buckets 1/32 wide, so a percentile is within about 3%);
//! - the resident memory (`VmRSS`, and the peak `VmHWM`, of `/proc/PID/status`) of the
//!   processes `--pids` names (`node0`, `node1`, ... unless given as `NAME=PID`, e.g.
//!   `redis=PID`) while every client is still connected, and their CPU use over the window
//!   (100 = one core); the client's own; the whole machine's (`machine_cpu_pct`, from
//!   `/proc/stat`: what the processes above did not use went to something else); and how late
//!   a 10 ms sleep of the client woke (`client_lag_ms`): when that is large, the client was
//!   too busy to read promptly and the latencies include its own delay;
//! - over the whole run: connections lost, deliveries of a client's own messages, ids not
//!   above the previous one a client got (reordered or repeated), ids repeated among a
//!   client's last 32, and the other event types received, also within the window;
//! - presence (rooms of at most 128): each client keeps its room's list of names as the page
//!   does (the `online` list of its join replaces it, `join` and `leave` notices change it),
//!   and counts `leave` notices for clients that are still connected (`false_leaves`),
//!   `join` notices for a name already listed, and `error`s before its `online` list (a
//!   failed join). After the grace every client compares its list with who is connected
//!   (`presence_at_end`), before anyone leaves; `presence_note` lines say who was missing
//!   from whose list, by node.
//!
//! Failures (connects, lost connections, `error` events from the server) are counted by their
//! description in `note` lines, with when they were first and last seen. Then every client
//! closes with 1000 and waits for the server's answer, all within 20 s. A message's type is
//! found by searching for `"type":"`, a number after its key, with no JSON parsing: the texts
//! this client sends have no quotes, so the first match is the envelope's.
//!
//! The exit status is 0 when every client connected and none lost its connection.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Message, WsError};
use wsproto::{ClientRequest, CloseCode, Config};

const USAGE: &str = "usage: load [--nodes URL,URL...] [--clients N] [--room-size N] \
[--interval-secs S] [--duration-secs S] [--warmup-secs S] [--grace-secs S] [--concurrency N] \
[--connect-rate N] [--sources N] [--threads N] [--deflate] [--pids [NAME=]PID,...]";

/// How long one connect (TCP and WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long all clients together may take to close at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(20);
/// How many distinct failure descriptions are kept for the report.
const MAX_NOTES: usize = 12;

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    nodes: Vec<String>,
    clients: usize,
    room_size: usize,
    interval: Duration,
    duration: Duration,
    warmup: Duration,
    grace: Duration,
    concurrency: usize,
    /// Connects started per second, 0 for as fast as `concurrency` allows.
    connect_rate: f64,
    sources: u8,
    threads: usize,
    deflate: bool,
    /// Processes to report on: a name and a pid.
    pids: Vec<(String, u32)>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            nodes: vec!["ws://127.0.0.1:8080/chat".to_owned()],
            clients: 10_000,
            room_size: 100,
            interval: Duration::from_secs(10),
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(15),
            grace: Duration::from_secs(5),
            concurrency: 500,
            connect_rate: 0.0,
            sources: 1,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            deflate: false,
            pids: Vec::new(),
        };
        while let Some(arg) = args.next() {
            if arg == "--deflate" {
                o.deflate = true;
                continue;
            }
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            let num = |v: &str| -> Result<u64, String> {
                v.parse::<u64>()
                    .map_err(|_| format!("{arg}: not a number: {v:?}"))
            };
            let secs = |v: &str| -> Result<Duration, String> {
                let s: f64 = v
                    .parse()
                    .map_err(|_| format!("{arg}: not seconds: {v:?}"))?;
                Duration::try_from_secs_f64(s).map_err(|_| format!("{arg}: not seconds: {v:?}"))
            };
            match arg.as_str() {
                "--nodes" => {
                    o.nodes = value.split(',').map(str::trim).map(str::to_owned).collect();
                }
                "--clients" => o.clients = num(&value)? as usize,
                "--room-size" => o.room_size = num(&value)?.max(1) as usize,
                "--interval-secs" => o.interval = secs(&value)?,
                "--duration-secs" => o.duration = secs(&value)?,
                "--warmup-secs" => o.warmup = secs(&value)?,
                "--grace-secs" => o.grace = secs(&value)?,
                "--concurrency" => o.concurrency = num(&value)?.max(1) as usize,
                "--connect-rate" => {
                    o.connect_rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r >= 0.0)
                        .ok_or_else(|| format!("--connect-rate: not a rate: {value:?}"))?;
                }
                "--sources" => o.sources = num(&value)?.clamp(1, 250) as u8,
                "--threads" => o.threads = num(&value)?.max(1) as usize,
                "--pids" => {
                    o.pids = value
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .enumerate()
                        .map(|(n, p)| {
                            let (name, pid) = match p.split_once('=') {
                                Some((name, pid)) => (name.trim().to_owned(), pid),
                                None => (format!("node{n}"), p),
                            };
                            let pid = pid.trim().parse().map_err(|_| format!("--pids: {p:?}"))?;
                            Ok::<_, String>((name, pid))
                        })
                        .collect::<Result<_, _>>()?;
                }
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        if o.nodes.is_empty() || o.nodes.iter().any(String::is_empty) {
            return Err("--nodes needs at least one URL".to_owned());
        }
        for url in &o.nodes {
            ClientRequest::from_url(url).map_err(|e| format!("{url}: {e}"))?;
        }
        if o.interval < Duration::from_millis(100) {
            // The server stops reading a connection that sends faster than about 10/s.
            return Err("--interval-secs must be at least 0.1".to_owned());
        }
        Ok(o)
    }
}

/// A latency histogram in microseconds: exact below 32 µs, then 32 buckets per power of two.
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    max: AtomicU64,
}

const SUB: u32 = 32;
const SUB_BITS: u32 = 5;
/// Powers of two up to 2^40 µs (12 days): anything later lands in the last bucket.
const BUCKETS: usize = (SUB + (40 - SUB_BITS) * SUB) as usize;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    fn index(us: u64) -> usize {
        if us < u64::from(SUB) {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros(); // >= SUB_BITS
        let sub = (us >> (exp - SUB_BITS)) as u32 - SUB;
        ((SUB + (exp - SUB_BITS) * SUB + sub) as usize).min(BUCKETS - 1)
    }

    /// The largest value bucket `index` holds.
    fn upper(index: usize) -> u64 {
        let index = index as u32;
        if index < SUB {
            return u64::from(index);
        }
        let exp = (index - SUB) / SUB + SUB_BITS;
        let sub = (index - SUB) % SUB;
        let width = 1u64 << (exp - SUB_BITS);
        (u64::from(SUB + sub) << (exp - SUB_BITS)) + width - 1
    }

    fn record(&self, us: u64) {
        self.buckets[Self::index(us)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.max.fetch_max(us, Relaxed);
    }

    /// The value below which `q` of the recorded values fall (bucket upper bound, capped by
    /// the exact maximum), or `None` when nothing was recorded.
    fn quantile(&self, q: f64) -> Option<u64> {
        let count = self.count.load(Relaxed);
        if count == 0 {
            return None;
        }
        let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Relaxed);
            if seen >= rank {
                return Some(Self::upper(i).min(self.max.load(Relaxed)));
            }
        }
        Some(self.max.load(Relaxed))
    }
}

/// What every client adds to.
struct Stats {
    /// The measured window, microseconds since the epoch; `u64::MAX` until it is known.
    window_start: AtomicU64,
    window_end: AtomicU64,
    /// Clients done with their connect attempt, either way.
    attempted: AtomicUsize,
    connected: AtomicUsize,
    /// Connections with permessage-deflate agreed.
    deflated: AtomicUsize,
    connect_failed: AtomicUsize,
    /// Clients whose connection ended before the close at the end.
    dropped: AtomicUsize,
    /// Connected members per room, how many and which.
    members: Vec<AtomicU32>,
    truth: Vec<Members>,
    /// `join` notices for a name the client's list had already (after its `online` list).
    redundant_joins: AtomicU64,
    /// `leave` notices for a name the client's list did not have.
    unknown_leaves: AtomicU64,
    /// `error` events a client got before its room's `online` list (its join failed).
    errors_before_list: AtomicU64,
    /// `error` events after the join (about the last message sent), and how many of those
    /// messages were delivered all the same.
    message_errors: AtomicU64,
    errored_but_delivered: AtomicU64,
    /// `leave` notices for a client that was still connected.
    false_leaves: AtomicU64,
    /// At the end, before the close: clients whose list of names differs from who is
    /// connected, and by how many names missing and extra in all.
    checked: AtomicUsize,
    /// Clients that never got the `online` list of their room.
    no_list: AtomicUsize,
    views_wrong: AtomicU64,
    view_missing: AtomicU64,
    view_extra: AtomicU64,
    sent_total: AtomicU64,
    sent_window: AtomicU64,
    send_failed: AtomicU64,
    /// Sends that came later than one interval after their slot (skipped ahead).
    sends_skipped: AtomicU64,
    expected_window: AtomicU64,
    received_total: AtomicU64,
    /// `message` events received while the clock was inside the window.
    received_in_window: AtomicU64,
    /// Deliveries of messages sent inside the window (whenever they arrived).
    delivered_of_window: AtomicU64,
    /// Deliveries of a client's own message back to it.
    self_deliveries: AtomicU64,
    /// `message` events whose id was not above the previous one the same client got.
    not_increasing: AtomicU64,
    /// `message` events whose id the same client had among its last 32.
    duplicates: AtomicU64,
    /// `message` events without the marker (or with a bad one).
    unmarked: AtomicU64,
    latency: Histogram,
    /// How late a 10 ms sleep of this process wakes, within the window: when this is large,
    /// the client itself (not the server) was slow to read, and latencies include that.
    lag: Histogram,
    /// Other event types: welcome, online, history, join, leave, dm, error, other.
    by_type: [AtomicU64; 8],
    /// The same, received within the window.
    by_type_window: [AtomicU64; 8],
    closed_clean: AtomicUsize,
    closed_unclean: AtomicUsize,
    /// Failure descriptions: what, how many times, first and last seen (s since start).
    notes: Mutex<Vec<Note>>,
    presence_notes: Mutex<Vec<Note>>,
    started: std::time::Instant,
}

#[derive(Clone)]
struct Note {
    what: String,
    count: u64,
    first: f64,
    last: f64,
}

const TYPES: [&str; 8] = [
    "welcome", "online", "history", "join", "leave", "dm", "error", "other",
];

impl Stats {
    fn new(rooms: usize) -> Stats {
        Stats {
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
            attempted: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
            deflated: AtomicUsize::new(0),
            connect_failed: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            members: (0..rooms).map(|_| AtomicU32::new(0)).collect(),
            truth: (0..rooms).map(|_| Members::default()).collect(),
            redundant_joins: AtomicU64::new(0),
            unknown_leaves: AtomicU64::new(0),
            false_leaves: AtomicU64::new(0),
            errors_before_list: AtomicU64::new(0),
            message_errors: AtomicU64::new(0),
            errored_but_delivered: AtomicU64::new(0),
            checked: AtomicUsize::new(0),
            no_list: AtomicUsize::new(0),
            views_wrong: AtomicU64::new(0),
            view_missing: AtomicU64::new(0),
            view_extra: AtomicU64::new(0),
            sent_total: AtomicU64::new(0),
            sent_window: AtomicU64::new(0),
            send_failed: AtomicU64::new(0),
            sends_skipped: AtomicU64::new(0),
            expected_window: AtomicU64::new(0),
            received_total: AtomicU64::new(0),
            received_in_window: AtomicU64::new(0),
            delivered_of_window: AtomicU64::new(0),
            self_deliveries: AtomicU64::new(0),
            not_increasing: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            unmarked: AtomicU64::new(0),
            latency: Histogram::new(),
            lag: Histogram::new(),
            by_type: Default::default(),
            by_type_window: Default::default(),
            closed_clean: AtomicUsize::new(0),
            closed_unclean: AtomicUsize::new(0),
            notes: Mutex::new(Vec::new()),
            presence_notes: Mutex::new(Vec::new()),
            started: std::time::Instant::now(),
        }
    }

    /// Keeps a description of something that went wrong, counting repeats of the same one.
    fn note(&self, what: String) {
        self.note_in(&self.notes, what);
    }

    /// The same, for presence findings.
    fn presence_note(&self, what: String) {
        self.note_in(&self.presence_notes, what);
    }

    fn note_in(&self, notes: &Mutex<Vec<Note>>, what: String) {
        let at = self.started.elapsed().as_secs_f64();
        let mut notes = notes.lock().unwrap_or_else(|e| e.into_inner());
        let what = if notes.len() < MAX_NOTES || notes.iter().any(|n| n.what == what) {
            what
        } else {
            "(other notes)".to_owned()
        };
        if let Some(note) = notes.iter_mut().find(|n| n.what == what) {
            note.count += 1;
            note.last = at;
        } else {
            notes.push(Note {
                what,
                count: 1,
                first: at,
                last: at,
            });
        }
    }

    fn in_window(&self, us: u64) -> bool {
        us >= self.window_start.load(Relaxed) && us < self.window_end.load(Relaxed)
    }
}

/// Microseconds since the Unix epoch.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A small PRNG (SplitMix64): no dependency, and each client has its own.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), near enough.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

const EMOJI: [char; 16] = [
    '😀', '😂', '🥲', '😍', '🤔', '👍', '👋', '🎉', '🔥', '🚀', '🌸', '🍜', '🐱', '❤', '✨', '🦀',
];

/// 40 to 80 characters of CJK, emoji and a few spaces, with the marker somewhere inside.
fn text(rng: &mut Rng, sender: usize, sent_us: u64) -> String {
    let chars = 40 + rng.below(41) as usize;
    let at = 1 + rng.below(chars as u64 - 1) as usize;
    let mut s = String::with_capacity(chars * 4 + 48);
    for i in 0..chars {
        if i == at {
            use std::fmt::Write as _;
            let _ = write!(s, " |t={sent_us}|s={sender}| ");
        }
        let roll = rng.below(100);
        let c = if roll < 78 {
            // CJK Unified Ideographs, U+4E00..U+9FFF.
            char::from_u32(0x4e00 + rng.below(0x5200) as u32).unwrap_or('字')
        } else if roll < 93 {
            EMOJI[rng.below(EMOJI.len() as u64) as usize]
        } else if roll < 97 {
            // Hiragana.
            char::from_u32(0x3041 + rng.below(0x56) as u32).unwrap_or('あ')
        } else {
            ' '
        };
        s.push(c);
    }
    s
}

/// The value of `"type":"..."` in a server message, found without parsing. The text fields
/// the load test sends contain no quotes, so the first match is the envelope's.
fn kind(s: &str) -> &str {
    const KEY: &str = "\"type\":\"";
    let Some(at) = s.find(KEY) else { return "" };
    let rest = &s[at + KEY.len()..];
    rest.find('"').map_or("", |end| &rest[..end])
}

/// The decimal number after `key` in `s`.
fn number_after(s: &str, key: &str) -> Option<u64> {
    let at = s.find(key)? + key.len();
    let digits = s[at..].bytes().take_while(u8::is_ascii_digit).count();
    s[at..at + digits].parse().ok()
}

type Ws = WebSocketStream<TcpStream>;

/// What a client has seen: the highest message id, the last 32 ids (0 is no id: they start
/// at 1), and which names of its room it was told are online (bit `i % room-size` for `cI`,
/// from the room's `online` list and the `join` and `leave` notices after it).
struct Seen {
    last: u64,
    recent: [u64; 32],
    next: usize,
    me: usize,
    room: usize,
    /// The marker of the last message sent, whether it came back, whether an error followed.
    last_sent: u64,
    last_delivered: bool,
    last_errored: bool,
    online: u128,
    has_list: bool,
}

/// Which of a room's members are connected, bit `i % room-size` for client `i`.
#[derive(Default)]
struct Members([AtomicU64; 2]);

impl Members {
    fn set(&self, bit: usize, on: bool) {
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if on {
            self.0[word].fetch_or(mask, Relaxed);
        } else {
            self.0[word].fetch_and(!mask, Relaxed);
        }
    }

    fn get(&self) -> u128 {
        u128::from(self.0[0].load(Relaxed)) | u128::from(self.0[1].load(Relaxed)) << 64
    }
}

/// The names in an `online` list of load clients, as bits of `room`.
fn online_bits(s: &str, room: usize, room_size: usize) -> u128 {
    let Some(at) = s.find("\"names\":[") else {
        return 0;
    };
    let list = &s[at + 9..];
    let list = &list[..list.find(']').unwrap_or(list.len())];
    list.split(',')
        .filter_map(|n| {
            n.trim()
                .trim_matches('"')
                .strip_prefix('c')?
                .parse::<usize>()
                .ok()
        })
        .filter(|n| n / room_size == room)
        .fold(0, |bits, n| bits | 1 << (n % room_size))
}

/// A `join` or `leave` notice about this client's room: presence checks.
fn on_presence(stats: &Stats, o: &Options, seen: &mut Seen, join: bool, s: &str) {
    if o.room_size > 128 || number_after(s, "\"room\":\"load-") != Some(seen.room as u64) {
        return;
    }
    let Some(n) = number_after(s, "\"name\":\"c").map(|n| n as usize) else {
        return;
    };
    if n / o.room_size != seen.room {
        return;
    }
    let bit = 1u128 << (n % o.room_size);
    let connected = stats.truth[seen.room].get() & bit != 0;
    if join {
        if seen.has_list && seen.online & bit != 0 && n != seen.me {
            stats.redundant_joins.fetch_add(1, Relaxed);
        }
        seen.online |= bit;
    } else {
        if seen.has_list && seen.online & bit == 0 {
            stats.unknown_leaves.fetch_add(1, Relaxed);
        }
        if connected {
            stats.false_leaves.fetch_add(1, Relaxed);
            stats.presence_note(format!(
                "leave notice for a client still connected: it is on node{}, the receiver on node{}",
                n % o.nodes.len(),
                seen.me % o.nodes.len(),
            ));
        }
        seen.online &= !bit;
    }
}

/// What a client does with one text from the server.
fn on_text(stats: &Stats, o: &Options, me: usize, seen: &mut Seen, s: &str) {
    let kind = kind(s);
    if kind != "message" {
        match kind {
            "join" | "leave" => on_presence(stats, o, seen, kind == "join", s),
            "online"
                if o.room_size <= 128
                    && number_after(s, "\"room\":\"load-") == Some(seen.room as u64) =>
            {
                seen.online = online_bits(s, seen.room, o.room_size);
                seen.has_list = true;
            }
            "error" if !seen.has_list => {
                stats.errors_before_list.fetch_add(1, Relaxed);
            }
            "error" if seen.last_sent != 0 && !seen.last_errored => {
                // Sends are an interval apart: an error after the join is about the last one.
                seen.last_errored = true;
                stats.message_errors.fetch_add(1, Relaxed);
                if seen.last_delivered {
                    stats.errored_but_delivered.fetch_add(1, Relaxed);
                }
            }
            _ => {}
        }
        let slot = TYPES
            .iter()
            .position(|t| *t == kind)
            .unwrap_or(TYPES.len() - 1);
        stats.by_type[slot].fetch_add(1, Relaxed);
        if stats.in_window(now_us()) {
            stats.by_type_window[slot].fetch_add(1, Relaxed);
        }
        if kind == "error" || slot == TYPES.len() - 1 {
            let mut shown: String = s.chars().take(200).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            stats.note(format!("server sent: {shown}"));
        }
        return;
    }
    let now = now_us();
    stats.received_total.fetch_add(1, Relaxed);
    if stats.in_window(now) {
        stats.received_in_window.fetch_add(1, Relaxed);
    }
    if let Some(id) = number_after(s, "\"id\":") {
        if id <= seen.last {
            stats.not_increasing.fetch_add(1, Relaxed);
        }
        if seen.recent.contains(&id) {
            stats.duplicates.fetch_add(1, Relaxed);
        }
        seen.last = seen.last.max(id);
        seen.recent[seen.next] = id;
        seen.next = (seen.next + 1) % seen.recent.len();
    }
    let (Some(sent), Some(sender)) = (number_after(s, "|t="), number_after(s, "|s=")) else {
        stats.unmarked.fetch_add(1, Relaxed);
        return;
    };
    if sender == me as u64 {
        stats.self_deliveries.fetch_add(1, Relaxed);
        if sent == seen.last_sent && !seen.last_delivered {
            seen.last_delivered = true;
            if seen.last_errored {
                stats.errored_but_delivered.fetch_add(1, Relaxed);
            }
        }
    }
    if stats.in_window(sent) {
        stats.delivered_of_window.fetch_add(1, Relaxed);
        stats.latency.record(now.saturating_sub(sent));
    }
}

/// The phases main moves the clients through.
const RUN: u8 = 0;
const STOP_SENDING: u8 = 1;
/// Every client compares its list of names with who is connected.
const CHECK: u8 = 2;
const CLOSE: u8 = 3;

/// Before anyone leaves: does this client's list of names match who is connected?
fn check_view(stats: &Stats, o: &Options, seen: &Seen) {
    stats.checked.fetch_add(1, Relaxed);
    if o.room_size > 128 {
        return;
    }
    let truth = stats.truth[seen.room].get();
    if !seen.has_list {
        stats.no_list.fetch_add(1, Relaxed);
    }
    if !seen.has_list || seen.online != truth {
        stats.views_wrong.fetch_add(1, Relaxed);
        let missing = truth & !seen.online;
        let extra = seen.online & !truth;
        stats
            .view_missing
            .fetch_add(u64::from(missing.count_ones()), Relaxed);
        stats
            .view_extra
            .fetch_add(u64::from(extra.count_ones()), Relaxed);
        let nodes = o.nodes.len();
        let me = format!("c{}@node{}", seen.me, seen.me % nodes);
        let names = |bits: u128| -> Vec<usize> {
            (0..128)
                .filter(|b| bits & 1 << b != 0)
                .map(|b| seen.room * o.room_size + b)
                .collect()
        };
        let listless = if seen.has_list {
            ""
        } else {
            " (a receiver that never got its room's online list)"
        };
        for (what, bits) in [("missing from", missing), ("extra in", extra)] {
            for n in names(bits) {
                stats.presence_note(format!(
                    "at the end, a client of node{} {what} the list of a client of node{}{listless}",
                    n % nodes,
                    seen.me % nodes,
                ));
            }
        }
        if stats.views_wrong.load(Relaxed) <= 3 {
            let shown = |v: Vec<usize>| -> String {
                let mut s: Vec<String> = v
                    .iter()
                    .take(8)
                    .map(|n| format!("c{n}@node{}", n % nodes))
                    .collect();
                if v.len() > 8 {
                    s.push(format!("and {} more", v.len() - 8));
                }
                s.join(" ")
            };
            stats.presence_note(format!(
                "e.g. the list of {me} (room load-{}{listless}) lacks [{}] and has extra [{}]",
                seen.room,
                shown(names(missing)),
                shown(names(extra)),
            ));
        }
    }
}

/// Connects client `i`; whether permessage-deflate was agreed.
async fn open(o: &Options, addrs: &[SocketAddr], i: usize) -> Result<(Ws, bool), WsError> {
    let node = i % o.nodes.len();
    let request = ClientRequest::from_url(&o.nodes[node])?;
    let addr = addrs[node];
    let socket = TcpSocket::new_v4()?;
    if o.sources > 1 {
        let source = std::net::Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(o.sources)) as u8);
        socket.bind((source, 0).into())?;
    }
    let tcp = socket.connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut config = Config::default();
    if o.deflate {
        config = config.deflate(wsproto::DeflateConfig::default());
    }
    let (ws, response) = WebSocketStream::client(tcp, request, config).await?;
    let deflate = response
        .extensions()
        .any(|e| e.trim_start().starts_with(wsproto::deflate::EXTENSION_NAME));
    Ok((ws, deflate))
}

async fn client(
    o: Arc<Options>,
    addrs: Arc<Vec<SocketAddr>>,
    stats: Arc<Stats>,
    i: usize,
    ramp: Arc<Semaphore>,
    mut phase: watch::Receiver<u8>,
) {
    let room = i / o.room_size;
    let mut rng = Rng(now_us() ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    if o.connect_rate > 0.0 {
        let at = Duration::from_secs_f64(i as f64 / o.connect_rate);
        sleep_until(Instant::from_std(stats.started) + at).await;
    }
    let permit = ramp.acquire().await;
    let opened = timeout(CONNECT_TIMEOUT, open(&o, &addrs, i)).await;
    drop(permit);
    let mut ws = match opened {
        Ok(Ok((ws, deflate))) => {
            if deflate {
                stats.deflated.fetch_add(1, Relaxed);
            }
            ws
        }
        Ok(Err(e)) => {
            stats.connect_failed.fetch_add(1, Relaxed);
            stats.attempted.fetch_add(1, Relaxed);
            stats.note(format!("connect: {e}"));
            return;
        }
        Err(_) => {
            stats.connect_failed.fetch_add(1, Relaxed);
            stats.attempted.fetch_add(1, Relaxed);
            stats.note(format!("connect: no handshake within {CONNECT_TIMEOUT:?}"));
            return;
        }
    };
    let join = format!(r#"{{"type":"join","data":{{"room":"load-{room}","name":"c{i}"}}}}"#);
    if let Err(e) = ws.send(join).await {
        stats.connect_failed.fetch_add(1, Relaxed);
        stats.attempted.fetch_add(1, Relaxed);
        stats.note(format!("join: {e}"));
        return;
    }
    stats.members[room].fetch_add(1, Relaxed);
    stats.truth[room].set(i % o.room_size, true);
    stats.connected.fetch_add(1, Relaxed);
    stats.attempted.fetch_add(1, Relaxed);

    let interval_us = o.interval.as_micros() as u64;
    let mut next = Instant::now() + Duration::from_micros(rng.below(interval_us.max(1)));
    let timer = sleep_until(next);
    tokio::pin!(timer);
    let mut sending = *phase.borrow() == RUN;
    let mut checked = false;
    let mut seen = Seen {
        last: 0,
        recent: [0; 32],
        next: 0,
        me: i,
        room,
        last_sent: 0,
        last_delivered: false,
        last_errored: false,
        online: 0,
        has_list: false,
    };
    let ended: Option<String> = loop {
        tokio::select! {
            changed = phase.changed() => {
                let now = if changed.is_ok() { *phase.borrow_and_update() } else { CLOSE };
                sending = now == RUN;
                if now >= CHECK && !checked {
                    checked = true;
                    check_view(&stats, &o, &seen);
                }
                if now >= CLOSE {
                    break None;
                }
            }
            received = ws.recv() => match received {
                Ok(Some(Message::Text(t))) => on_text(&stats, &o, i, &mut seen, t.as_str()),
                Ok(Some(Message::Close(frame))) => {
                    stats.note(format!("server closed: {} {}", frame.code(), frame.reason()));
                }
                Ok(Some(Message::Binary(b))) => stats.note(format!("binary message of {} bytes", b.len())),
                Ok(Some(_)) => {}
                Ok(None) => break Some("connection ended".to_owned()),
                Err(e) => break Some(format!("connection failed: {e}")),
            },
            () = &mut timer, if sending => {
                let sent = now_us();
                (seen.last_sent, seen.last_delivered, seen.last_errored) = (sent, false, false);
                let body = text(&mut rng, i, sent);
                let message = format!(r#"{{"type":"message","data":{{"room":"load-{room}","text":"{body}"}}}}"#);
                if let Err(e) = ws.send(message).await {
                    stats.send_failed.fetch_add(1, Relaxed);
                    break Some(format!("send failed: {e}"));
                }
                stats.sent_total.fetch_add(1, Relaxed);
                if stats.in_window(sent) {
                    stats.sent_window.fetch_add(1, Relaxed);
                    let members = stats.members[room].load(Relaxed);
                    stats.expected_window.fetch_add(u64::from(members), Relaxed);
                }
                next += o.interval;
                let now = Instant::now();
                if next + o.interval < now {
                    // Far behind (this process starved): skip the missed slots, keep the phase.
                    stats.sends_skipped.fetch_add(1, Relaxed);
                    while next < now {
                        next += o.interval;
                    }
                }
                timer.as_mut().reset(next);
            }
        }
    };
    stats.members[room].fetch_sub(1, Relaxed);
    stats.truth[room].set(i % o.room_size, false);
    if let Some(why) = ended {
        stats.dropped.fetch_add(1, Relaxed);
        stats.note(why);
        return;
    }
    // The close: ours, then read until the server's answer and the end of the stream.
    let finished = timeout(CLOSE_TIMEOUT, async {
        ws.close(CloseCode::NORMAL, "load test done").await?;
        // The server may still be sending messages; bounded by the timeout around this.
        while ws.recv().await?.is_some() {}
        Ok::<(), WsError>(())
    })
    .await;
    match finished {
        Ok(Ok(())) => {
            stats.closed_clean.fetch_add(1, Relaxed);
        }
        Ok(Err(e)) => {
            stats.closed_unclean.fetch_add(1, Relaxed);
            stats.note(format!("close: {e}"));
        }
        Err(_) => {
            stats.closed_unclean.fetch_add(1, Relaxed);
            stats.note(format!("close: not done within {CLOSE_TIMEOUT:?}"));
        }
    }
}

/// A process's resident memory now and at its peak, in KiB.
fn rss_kib(pid: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// A process's user plus system CPU time, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The machine's CPU time from `/proc/stat`, in ticks: (busy, all), all CPUs together.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user).
    let all: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((all - idle, all))
}

/// The 1-minute load average, to see whether something else competed for the CPUs.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "-".to_owned())
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(us: Option<u64>) -> String {
    us.map_or("-".to_owned(), |us| format!("{:.1}", us as f64 / 1000.0))
}

fn progress(stats: &Stats, started: Instant, what: &str) {
    eprintln!(
        "progress: t={:.0}s {what} connected={} failed={} dropped={} sent={} received={} joins={} leaves={} errors={} loadavg={}",
        started.elapsed().as_secs_f64(),
        stats.connected.load(Relaxed),
        stats.connect_failed.load(Relaxed),
        stats.dropped.load(Relaxed),
        stats.sent_total.load(Relaxed),
        stats.received_total.load(Relaxed),
        stats.by_type[3].load(Relaxed),
        stats.by_type[4].load(Relaxed),
        stats.by_type[6].load(Relaxed),
        loadavg(),
    );
}

/// Sleeps until `until`, reporting progress every 5 s.
async fn wait_reporting(stats: &Stats, started: Instant, until: Instant, what: &str) {
    while Instant::now() < until {
        sleep_until(until.min(Instant::now() + Duration::from_secs(5))).await;
        progress(stats, started, what);
    }
}

fn main() -> ExitCode {
    let o = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(why) => {
            eprintln!("{why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(o)),
        Err(e) => {
            eprintln!("runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: Options) -> ExitCode {
    // Every node's address, resolved once; loopback only, as this floods what it talks to.
    let mut addrs = Vec::new();
    for url in &o.nodes {
        let Ok(request) = ClientRequest::from_url(url) else {
            return ExitCode::from(2);
        };
        let Some(wsurl) = request.url() else {
            return ExitCode::from(2);
        };
        let found = tokio::net::lookup_host((wsurl.host(), wsurl.port())).await;
        match found.map(|mut a| a.find(SocketAddr::is_ipv4)) {
            Ok(Some(addr)) if addr.ip().is_loopback() && !wsurl.is_secure() => addrs.push(addr),
            Ok(Some(addr)) => {
                eprintln!("{url}: {addr} is not plain ws:// on an IPv4 loopback address");
                return ExitCode::from(2);
            }
            Ok(None) => {
                eprintln!("{url}: no IPv4 address");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("{url}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let addrs = Arc::new(addrs);
    let o = Arc::new(o);
    let rooms = o.clients.div_ceil(o.room_size);
    let stats = Arc::new(Stats::new(rooms));
    let ramp = Arc::new(Semaphore::new(o.concurrency));
    let (phase_tx, phase_rx) = watch::channel(RUN);
    let started = Instant::now();
    println!(
        "load: config clients={} nodes={} rooms={} room_size={} interval_s={} warmup_s={} duration_s={} grace_s={} concurrency={} connect_rate={} sources={} threads={} deflate={}",
        o.clients,
        o.nodes.len(),
        rooms,
        o.room_size,
        o.interval.as_secs_f64(),
        o.warmup.as_secs_f64(),
        o.duration.as_secs_f64(),
        o.grace.as_secs_f64(),
        o.concurrency,
        o.connect_rate,
        o.sources,
        o.threads,
        o.deflate,
    );
    // The client's own scheduling delay, sampled every 10 ms.
    let lag_probe = {
        let stats = stats.clone();
        let phase = phase_rx.clone();
        tokio::spawn(async move {
            let tick = Duration::from_millis(10);
            // Until the close (and aborted at the end in any case).
            while *phase.borrow() < CLOSE {
                let asleep = Instant::now();
                sleep(tick).await;
                let late = asleep.elapsed().saturating_sub(tick).as_micros() as u64;
                if stats.in_window(now_us()) {
                    stats.lag.record(late);
                }
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..o.clients {
        tasks.spawn(client(
            o.clone(),
            addrs.clone(),
            stats.clone(),
            i,
            ramp.clone(),
            phase_rx.clone(),
        ));
    }
    drop(phase_rx);

    // Connects: each attempt is bounded, so this ends; the bound below is a second guard.
    let paced = if o.connect_rate > 0.0 {
        Duration::from_secs_f64(o.clients as f64 / o.connect_rate)
    } else {
        Duration::ZERO
    };
    let connect_bound = started
        + paced
        + CONNECT_TIMEOUT * (o.clients.div_ceil(o.concurrency) as u32 + 1)
        + Duration::from_secs(5);
    let mut last_report = Instant::now();
    while stats.attempted.load(Relaxed) < o.clients && Instant::now() < connect_bound {
        sleep(Duration::from_millis(50)).await;
        if last_report.elapsed() >= Duration::from_secs(5) {
            progress(&stats, started, "connecting");
            last_report = Instant::now();
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    progress(&stats, started, "connected");

    // The window, on the wall clock the markers use and on the runtime's clock.
    let window_at = Instant::now() + o.warmup;
    let window_us = now_us() + o.warmup.as_micros() as u64;
    stats.window_start.store(window_us, Relaxed);
    stats
        .window_end
        .store(window_us + o.duration.as_micros() as u64, Relaxed);
    eprintln!(
        "progress: window from t={:.1}s to t={:.1}s",
        (window_at - started).as_secs_f64(),
        (window_at + o.duration - started).as_secs_f64()
    );
    wait_reporting(&stats, started, window_at, "warmup").await;

    let pids: Vec<String> = o.pids.iter().map(|(_, pid)| pid.to_string()).collect();
    let self_pid = std::process::id().to_string();
    let cpu_before: Vec<Option<u64>> = pids
        .iter()
        .chain([&self_pid])
        .map(|p| cpu_ticks(p))
        .collect();
    let window_started = Instant::now();
    let machine_before = machine_ticks();
    let loadavg_start = loadavg();
    wait_reporting(&stats, started, window_at + o.duration, "measuring").await;
    let window_secs = window_started.elapsed().as_secs_f64();
    let loadavg_end = loadavg();
    let machine_after = machine_ticks();
    let cpu_after: Vec<Option<u64>> = pids
        .iter()
        .chain([&self_pid])
        .map(|p| cpu_ticks(p))
        .collect();
    let _ = phase_tx.send(STOP_SENDING);
    wait_reporting(&stats, started, Instant::now() + o.grace, "grace").await;

    // Memory while every client is still connected.
    let rss: Vec<Option<(u64, u64)>> = pids.iter().chain([&self_pid]).map(|p| rss_kib(p)).collect();

    let s = &stats;
    let sent = s.sent_window.load(Relaxed);
    let expected = s.expected_window.load(Relaxed);
    let delivered = s.received_in_window.load(Relaxed);
    let of_window = s.delivered_of_window.load(Relaxed);
    let duration = o.duration.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "load: clients={} connected={} connect_failures={} connect_secs={connect_secs:.1} deflate_agreed={}",
        o.clients,
        s.connected.load(Relaxed),
        s.connect_failed.load(Relaxed),
        s.deflated.load(Relaxed),
    );
    println!(
        "load: sent={sent} sent_total={} send_failures={} sends_late_skipped={}",
        s.sent_total.load(Relaxed),
        s.send_failed.load(Relaxed),
        s.sends_skipped.load(Relaxed),
    );
    println!(
        "load: delivered={delivered} deliveries_per_sec={:.0} received_total={}",
        delivered as f64 / duration,
        s.received_total.load(Relaxed),
    );
    println!(
        "load: expected={expected} delivered_of_window={of_window} ratio={:.4}",
        if expected == 0 {
            0.0
        } else {
            of_window as f64 / expected as f64
        },
    );
    println!(
        "load: p50_ms={} p99_ms={} max_ms={} samples={}",
        ms(s.latency.quantile(0.50)),
        ms(s.latency.quantile(0.99)),
        ms(s.latency
            .count
            .load(Relaxed)
            .gt(&0)
            .then(|| s.latency.max.load(Relaxed))),
        s.latency.count.load(Relaxed),
    );
    println!(
        "load: p90_ms={} p999_ms={}",
        ms(s.latency.quantile(0.90)),
        ms(s.latency.quantile(0.999)),
    );
    println!(
        "load: client_lag_ms p50={} p99={} max={} (how late a 10 ms sleep of the client woke)",
        ms(s.lag.quantile(0.50)),
        ms(s.lag.quantile(0.99)),
        ms(s.lag
            .count
            .load(Relaxed)
            .gt(&0)
            .then(|| s.lag.max.load(Relaxed))),
    );
    println!(
        "load: message_errors={} errored_but_delivered={} (an error after the join is taken to be about the client's last message)",
        s.message_errors.load(Relaxed),
        s.errored_but_delivered.load(Relaxed),
    );
    println!(
        "load: dropped_connections={} self_deliveries={} ids_not_increasing={} duplicates={} unmarked={}",
        s.dropped.load(Relaxed),
        s.self_deliveries.load(Relaxed),
        s.not_increasing.load(Relaxed),
        s.duplicates.load(Relaxed),
        s.unmarked.load(Relaxed),
    );
    let types: Vec<String> = TYPES
        .iter()
        .zip(&s.by_type)
        .map(|(t, n)| format!("{t}={}", n.load(Relaxed)))
        .collect();
    println!("load: other_events {}", types.join(" "));
    let types: Vec<String> = TYPES
        .iter()
        .zip(&s.by_type_window)
        .map(|(t, n)| format!("{t}={}", n.load(Relaxed)))
        .collect();
    println!("load: other_events_in_window {}", types.join(" "));
    println!(
        "load: presence false_leaves={} redundant_joins={} unknown_leaves={} errors_before_online_list={}",
        s.false_leaves.load(Relaxed),
        s.redundant_joins.load(Relaxed),
        s.unknown_leaves.load(Relaxed),
        s.errors_before_list.load(Relaxed),
    );
    for (n, (name, pid)) in o.pids.iter().enumerate() {
        match rss[n] {
            Some((now, peak)) => println!(
                "load: {name} pid={pid} rss_mib={} peak_rss_mib={}",
                mib(now),
                mib(peak)
            ),
            None => println!("load: {name} pid={pid} rss_mib=- (no /proc/{pid}/status)"),
        }
    }
    let cpu: Vec<String> = cpu_before
        .iter()
        .zip(&cpu_after)
        .enumerate()
        .map(|(n, (b, a))| {
            let name = o.pids.get(n).map_or("client", |(name, _)| name.as_str());
            match (b, a) {
                (Some(b), Some(a)) => {
                    format!("{name}={:.0}", (a - b) as f64 / window_secs.max(0.001))
                }
                _ => format!("{name}=-"),
            }
        })
        .collect();
    println!("load: cpu_pct {}", cpu.join(" "));
    if let (Some((b0, a0)), Some((b1, a1))) = (machine_before, machine_after) {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let busy = (b1 - b0) as f64 / (a1 - a0).max(1) as f64 * 100.0 * cpus as f64;
        let ours: f64 = cpu_before
            .iter()
            .zip(&cpu_after)
            .filter_map(|(b, a)| Some((a.as_ref()? - b.as_ref()?) as f64 / window_secs.max(0.001)))
            .sum();
        println!(
            "load: machine_cpu_pct busy={busy:.0} of={} measured_processes={ours:.0} others={:.0}",
            cpus * 100,
            (busy - ours).max(0.0)
        );
    }
    println!("load: loadavg window_start={loadavg_start} window_end={loadavg_end}");
    if let Some(Some((now, peak))) = rss.last() {
        println!(
            "load: client rss_mib={} peak_rss_mib={}",
            mib(*now),
            mib(*peak)
        );
    }

    // Everyone compares its list of names with who is connected (up to 5 s), then closes.
    let _ = phase_tx.send(CHECK);
    let check_until = Instant::now() + Duration::from_secs(5);
    while s.checked.load(Relaxed) < s.connected.load(Relaxed) - s.dropped.load(Relaxed)
        && Instant::now() < check_until
    {
        sleep(Duration::from_millis(20)).await;
    }
    println!(
        "load: presence_at_end views_wrong={} without_online_list={} names_missing={} names_extra={} checked={}",
        s.views_wrong.load(Relaxed),
        s.no_list.load(Relaxed),
        s.view_missing.load(Relaxed),
        s.view_extra.load(Relaxed),
        s.checked.load(Relaxed),
    );
    let _ = phase_tx.send(CLOSE);
    let closing = Instant::now();
    let all_closed = timeout(CLOSE_TIMEOUT + Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    println!(
        "load: closed_clean={} closed_unclean={} close_secs={:.1} all_tasks_done={all_closed}",
        s.closed_clean.load(Relaxed),
        s.closed_unclean.load(Relaxed),
        closing.elapsed().as_secs_f64(),
    );
    tasks.abort_all();
    lag_probe.abort();
    let notes = s.notes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for n in &notes {
        println!(
            "load: note count={} first_s={:.1} last_s={:.1} {}",
            n.count, n.first, n.last, n.what
        );
    }
    let notes = s
        .presence_notes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for n in &notes {
        println!(
            "load: presence_note count={} first_s={:.1} last_s={:.1} {}",
            n.count, n.first, n.last, n.what
        );
    }
    let ok = s.connect_failed.load(Relaxed) == 0 && s.dropped.load(Relaxed) == 0;
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_cover_their_values() {
        for us in [
            0u64,
            1,
            31,
            32,
            33,
            63,
            64,
            100,
            1_000,
            12_345,
            1 << 30,
            (1 << 40) - 1,
        ] {
            let i = Histogram::index(us);
            assert!(Histogram::upper(i) >= us, "{us}");
            if i > 0 {
                assert!(Histogram::upper(i - 1) < us, "{us}");
            }
        }
    }

    #[test]
    fn markers_are_found() {
        let mut rng = Rng(1);
        let t = text(&mut rng, 42, 1_764_547_200_000_123);
        let n = t.chars().count();
        assert!((40..=80 + 30).contains(&n), "{n}");
        let s = format!(
            r#"{{"data":{{"from":"c42","id":7,"room":"load-0","text":"{t}","ts":1}},"type":"message"}}"#
        );
        assert_eq!(kind(&s), "message");
        assert_eq!(number_after(&s, "|t="), Some(1_764_547_200_000_123));
        assert_eq!(number_after(&s, "|s="), Some(42));
        assert_eq!(number_after(&s, "\"id\":"), Some(7));
    }

    #[test]
    fn online_lists_are_read() {
        let s = r#"{"data":{"names":["c200","c205","bob","c199","c300"],"room":"load-2"},"type":"online"}"#;
        assert_eq!(kind(s), "online");
        assert_eq!(number_after(s, "\"room\":\"load-"), Some(2));
        assert_eq!(online_bits(s, 2, 100), 1 | 1 << 5);
        let empty = r#"{"data":{"names":[],"room":"load-2"},"type":"online"}"#;
        assert_eq!(online_bits(empty, 2, 100), 0);
    }
}
