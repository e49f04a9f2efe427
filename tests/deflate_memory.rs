//! permessage-deflate memory through the connection, measured with a counting allocator: no zlib
//! stream before the first compressed message, streams freed after `release_after` without
//! one (only the history kept), messages intact across releases, and every byte returned when
//! connections close.
#![cfg(feature = "deflate")]
#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use wsproto::handshake::Accept;
use wsproto::{
    ClientRequest, CloseCode, Config, Connection, DataKind, DeflateConfig, Event, Instant, Seed,
};

// ---- a counting allocator, per thread so that parallel tests do not disturb it ----

struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = HELD.try_with(|held| held.set(held.get() + delta));
}

// SAFETY: forwards to the system allocator unchanged; the counter is a thread-local cell with a
// constant initialiser, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn held() -> isize {
    HELD.with(Cell::get)
}

// ---- helpers ----

fn take_output(conn: &mut Connection) -> Vec<u8> {
    let out: Vec<u8> = conn.transmit_slices().flatten().copied().collect();
    conn.advance_transmit(out.len());
    out
}

/// Feeds `bytes` to `conn` at `now`; returns the data messages.
fn feed(conn: &mut Connection, now: Instant, mut bytes: Vec<u8>) -> Vec<(DataKind, Vec<u8>)> {
    let mut got = Vec::new();
    while !bytes.is_empty() {
        let r = conn.recv(now, &mut bytes).unwrap();
        let consumed = r.consumed;
        if let Some(Event::Message(m)) = r.event {
            got.push((m.kind, m.payload.into_vec()));
        }
        bytes.drain(..consumed);
        if consumed == 0 {
            break;
        }
    }
    got
}

/// A client with `client` deflate settings and a server with `server`'s, after the handshake;
/// the server's `Sec-WebSocket-Extensions` answer.
fn pair(client: DeflateConfig, server: DeflateConfig) -> (Connection, Connection, String) {
    let request = ClientRequest::new("example.com", "/");
    let mut c = Connection::client(
        Config::default().deflate(client.clone()),
        request,
        Seed([9; 32]),
        Instant::ZERO,
    )
    .unwrap();
    let mut s = Connection::server(Config::default().deflate(server), Instant::ZERO);
    let request = take_output(&mut c);
    if client == DeflateConfig::default() {
        let head = String::from_utf8_lossy(&request);
        let offer = "permessage-deflate; client_max_window_bits";
        assert!(head.contains(&format!("\r\nSec-WebSocket-Extensions: {offer}\r\n")));
    }
    feed(&mut s, Instant::ZERO, request);
    s.accept(Instant::ZERO, &Accept::new()).unwrap();
    let response = String::from_utf8(take_output(&mut s)).unwrap();
    let answer = response
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .unwrap_or("")
        .to_owned();
    feed(&mut c, Instant::ZERO, response.into_bytes());
    (c, s, answer)
}

/// A chat message: JSON with multi-byte text, `i` making it differ.
fn chat(i: usize) -> String {
    let words = [
        "你好",
        "世界",
        "😀",
        "ありがとう",
        "привет",
        "좋아요",
        "🎉",
        "今天",
    ];
    let text: String = (0..12 + i % 17)
        .map(|k| words[(i * 7 + k) % words.len()])
        .collect();
    format!(
        "{{\"type\":\"message\",\"data\":{{\"id\":{i},\"user\":\"小明\",\"text\":\"{text}\"}}}}"
    )
}

/// One message from the client, echoed by the server, at `now`.
fn round_trip(c: &mut Connection, s: &mut Connection, now: Instant, msg: &str) {
    c.send_text(msg).unwrap();
    let got = feed(s, now, take_output(c));
    assert_eq!(got, [(DataKind::Text, msg.as_bytes().to_vec())]);
    s.send_text(msg).unwrap();
    let got = feed(c, now, take_output(s));
    assert_eq!(got, [(DataKind::Text, msg.as_bytes().to_vec())]);
}

/// Runs both connections' timers at `now`.
fn tick(c: &mut Connection, s: &mut Connection, now: Instant) {
    c.handle_timeout(now).unwrap();
    s.handle_timeout(now).unwrap();
}

// ---- tests ----

#[test]
fn idle_compressed_connections_hold_only_the_history() {
    let base = held();
    let (mut c, mut s, answer) = pair(DeflateConfig::default(), DeflateConfig::default());
    assert_eq!(
        answer,
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    );
    let handshaken = held() - base;
    // Two connections and their buffers, but no zlib stream (the smallest is 137 KB).
    assert!(handshaken < 20_000, "{handshaken}");
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(s.poll_timeout(), None);

    let t0 = Instant::from_millis(5_000);
    round_trip(&mut c, &mut s, t0, &chat(1));
    let live = held() - base;
    // Each side: a 12-bit, memory level 5 compressor (165,129 B) and a decompressor (47,689 B).
    assert!(live - handshaken >= 2 * (165_129 + 47_689), "{live}");
    // The server received at 5 s: its check is one period (1 s) later. The client's first
    // send used the time of its last input (0 s, sends are not given the time): its first
    // check comes early, finds the stream used, and looks again a period later.
    assert_eq!(s.poll_timeout(), Some(Instant::from_millis(6_000)));
    assert_eq!(c.poll_timeout(), Some(Instant::from_millis(1_000)));
    tick(&mut c, &mut s, Instant::from_millis(5_999));
    assert_eq!(held() - base, live, "used in the last period: kept");
    assert_eq!(c.poll_timeout(), Some(Instant::from_millis(6_999)));
    // A message during the period: the server's check moves one period on.
    round_trip(&mut c, &mut s, Instant::from_millis(5_999), &chat(2));
    let live = held() - base;
    tick(&mut c, &mut s, Instant::from_millis(6_000));
    assert_eq!(held() - base, live, "used in the last period: kept");
    assert_eq!(s.poll_timeout(), Some(Instant::from_millis(7_000)));
    // A whole period without a message: the server's streams go, 4 KiB of history per
    // direction kept; the client's a period later.
    tick(&mut c, &mut s, Instant::from_millis(7_000));
    assert_eq!(s.poll_timeout(), None);
    // (The history is what was sent and received so far, at most 4 KiB each way.)
    let freed = live - (held() - base);
    assert!(
        (165_129 + 47_689 - 2 * 4096..=165_129 + 47_689).contains(&freed),
        "{freed}"
    );
    tick(&mut c, &mut s, Instant::from_millis(8_000));
    assert_eq!(c.poll_timeout(), None);
    let idle = held() - base;
    let freed = live - idle;
    assert!(
        (2 * (165_129 + 47_689 - 2 * 4096)..=2 * (165_129 + 47_689)).contains(&freed),
        "both streams freed on both sides, the history kept: {freed}"
    );
    // What a released compressed connection pair holds beyond its state after the handshake:
    // the four histories, and the output and read buffers that any connection keeps.
    std::println!("pair: handshaken {handshaken} B, live {live} B, idle {idle} B");
    assert!(idle - handshaken < 2 * (4096 + 4096) + 4096, "{idle}");

    // The next messages restore the history: they still compress against the earlier ones.
    let msg = chat(1);
    c.send_text(&msg).unwrap();
    let wire = take_output(&mut c);
    assert!(
        wire.len() < msg.len() / 4,
        "{} of {}",
        wire.len(),
        msg.len()
    );
    assert_eq!(
        feed(&mut s, Instant::from_millis(8_000), wire),
        [(DataKind::Text, msg.into_bytes())]
    );
}

#[test]
fn messages_survive_many_releases_in_every_context_mode() {
    for (snct, cnct) in [(false, false), (true, false), (false, true), (true, true)] {
        let cfg = DeflateConfig::default()
            .server_no_context_takeover(snct)
            .client_no_context_takeover(cnct)
            .compression_threshold(0);
        let (mut c, mut s, _) = pair(cfg.clone(), cfg);
        let mut now = Instant::ZERO;
        let mut released = 0;
        for i in 0..120 {
            now = now + Duration::from_millis(100);
            round_trip(&mut c, &mut s, now, &chat(i % 9).repeat(1 + i % 40));
            if i % 4 != 3 {
                // Two periods of silence: the streams go.
                now = now + Duration::from_secs(1);
                tick(&mut c, &mut s, now);
                now = now + Duration::from_secs(1);
                tick(&mut c, &mut s, now);
                assert_eq!((c.poll_timeout(), s.poll_timeout()), (None, None));
                released += 1;
            }
        }
        assert_eq!(released, 90);
    }
}

#[test]
fn no_release_in_the_middle_of_a_fragmented_message() {
    let (mut c, mut s, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    let base = held();
    c.send_fragment(DataKind::Text, chat(3).as_bytes(), false)
        .unwrap();
    feed(&mut s, Instant::ZERO, take_output(&mut c));
    let during = held() - base;
    for secs in 1..=5 {
        tick(&mut c, &mut s, Instant::from_millis(secs * 1000));
    }
    // Both streams of the message are still there, and the check still armed.
    assert!(
        held() - base >= during - 1024,
        "{} vs {during}",
        held() - base
    );
    assert!(c.poll_timeout().is_some() && s.poll_timeout().is_some());
    c.send_fragment(DataKind::Text, b" the end", true).unwrap();
    let got = feed(&mut s, Instant::from_millis(5_500), take_output(&mut c));
    assert_eq!(
        got,
        [(DataKind::Text, format!("{} the end", chat(3)).into_bytes())]
    );
    for secs in 6..=8 {
        tick(&mut c, &mut s, Instant::from_millis(secs * 1000));
    }
    assert_eq!((c.poll_timeout(), s.poll_timeout()), (None, None));
}

#[test]
fn release_after_none_keeps_the_streams() {
    let cfg = DeflateConfig::default().release_after(None);
    let (mut c, mut s, _) = pair(cfg.clone(), cfg);
    round_trip(&mut c, &mut s, Instant::ZERO, &chat(4));
    assert_eq!((c.poll_timeout(), s.poll_timeout()), (None, None));
    let live = held();
    tick(&mut c, &mut s, Instant::from_millis(3_600_000));
    assert_eq!(held(), live);
}

#[test]
fn closed_compressed_connections_return_every_byte() {
    let start = held();
    for i in 0..200 {
        let (mut c, mut s, _) = pair(DeflateConfig::default(), DeflateConfig::default());
        let now = Instant::from_millis(i * 10);
        for k in 0..(i % 4) as usize {
            round_trip(&mut c, &mut s, now, &chat(k));
        }
        if i % 3 == 0 {
            tick(&mut c, &mut s, now + Duration::from_secs(1));
            tick(&mut c, &mut s, now + Duration::from_secs(2));
        }
        if i % 2 == 0 {
            c.close(now, CloseCode::NORMAL, "bye").unwrap();
            feed(&mut s, now, take_output(&mut c));
            feed(&mut c, now, take_output(&mut s));
        }
        drop((c, s));
        assert_eq!(held(), start, "connection pair {i}");
    }
}
