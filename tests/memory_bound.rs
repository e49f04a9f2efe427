//! A counting global allocator drives the worst cases a hostile peer can cause and checks that
//! the peak stays under `Connection::memory_bound`, the documented formula.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use wsproto::{Config, Connection, Delivery};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator and only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the moment both blocks exist, as a real realloc may.
        let now = CURRENT.fetch_add(new_size, Ordering::SeqCst) + new_size;
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: same contract as our caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Builds the hostile input first (it is ours, not the connection's), then measures the peak
/// the connection adds while it is fed, with the connection boxed so that it counts too.
fn peak_while(
    config: &Config,
    input: &[u8],
    mut make: impl FnMut(Config) -> Connection,
    also: impl Fn(&mut Connection),
) -> usize {
    let mut stream = input.to_vec();
    let baseline = CURRENT.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let mut conn = Box::new(make(config.clone()));
    // Feed in place, as an adapter does with its read buffer: no copies of ours are counted.
    let mut at = 0;
    while at < stream.len() {
        match conn.recv(T0, &mut stream[at..]) {
            Ok(recv) => {
                at += recv.consumed;
                if let Some(wsproto::Event::Request(_)) = recv.event {
                    let _ = conn.accept(T0, &wsproto::handshake::Accept::new());
                } else if recv.event.is_none() && recv.consumed == 0 {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    also(&mut conn);
    let peak = PEAK.load(Ordering::SeqCst) - baseline;
    drop(conn);
    peak
}

#[test]
fn peak_memory_stays_under_the_documented_bound() {
    let config = Config::default()
        .max_message_size(256 << 10)
        .max_frame_size(128 << 10)
        .max_pending_output(64 << 10)
        .max_handshake_size(8 << 10)
        .max_headers(32);
    let bound = Connection::memory_bound(&config);
    let mut report = Vec::new();

    // 1. A message reassembled right up to the limit, in many fragments.
    let mut stream = c2s(OP_BINARY, false, &[1; 1000]);
    for _ in 0..((256 << 10) / 1000 - 2) {
        stream.extend(c2s(OP_CONT, false, &[2; 1000]));
    }
    stream.extend(c2s(OP_CONT, true, &[3; 1000]));
    report.push((
        "reassembly at the limit",
        peak_while(&config, &stream, server, |_| {}),
    ));

    // 2. A huge declared length with a trickle of payload.
    let stream = cat(&[
        &header(true, 0, OP_BINARY, Some(KEY), 128 << 10),
        &[0; 4096],
    ]);
    report.push((
        "huge declared frame",
        peak_while(&config, &stream, server, |_| {}),
    ));

    // 3. A ping flood while the output is never drained.
    let stream: Vec<u8> = (0..20_000)
        .flat_map(|_| c2s(OP_PING, true, &[9; 125]))
        .collect();
    report.push(("ping flood", peak_while(&config, &stream, server, |_| {})));

    // 4. The application sends until refused while the peer reads nothing.
    report.push((
        "output full",
        peak_while(&config, &[], server, |conn| {
            while conn.send_binary(&[0; 3000]).is_ok() {}
            while conn.send_text("x").is_ok() {}
        }),
    ));

    // 5. Oversized and over-numerous handshake heads.
    let big_line = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(1 << 20));
    report.push((
        "1 MiB header line",
        peak_while(
            &config,
            big_line.as_bytes(),
            |c| Connection::server(c, T0),
            |_| {},
        ),
    ));
    let many: String = (0..10_000).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
    report.push((
        "10,000 headers",
        peak_while(
            &config,
            many.as_bytes(),
            |c| Connection::server(c, T0),
            |_| {},
        ),
    ));
    let full = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
        (0..25)
            .map(|i| format!("X-{i}: {}\r\n", "v".repeat(250)))
            .collect::<String>()
    );
    report.push((
        "largest valid request",
        peak_while(
            &config,
            full.as_bytes(),
            |c| Connection::server(c, T0),
            |_| {},
        ),
    ));

    // 6. Chunks mode with a message far over any buffer: nothing is reassembled.
    let streaming = config
        .clone()
        .delivery(Delivery::Chunks)
        .max_message_size(u64::MAX)
        .max_frame_size(u64::MAX);
    let stream: Vec<u8> = (0..64)
        .flat_map(|i| {
            c2s(
                if i == 0 { OP_BINARY } else { OP_CONT },
                false,
                &[5; 16 << 10],
            )
        })
        .collect();
    let chunk_peak = peak_while(&streaming, &stream, server, |_| {});
    assert!(
        chunk_peak <= Connection::memory_bound(&streaming),
        "chunks: {chunk_peak}"
    );
    report.push(("1 MiB streamed in chunks", chunk_peak));

    for (case, peak) in &report {
        eprintln!("{case:>26}: peak {peak:>8} bytes (bound {bound})");
        assert!(
            *peak <= bound,
            "{case}: peak {peak} exceeds the bound {bound}"
        );
    }
    // The bound is not vacuous: the reassembly case really used most of it.
    assert!(
        report[0].1 > 256 << 10,
        "reassembly peak {} should reach the message size",
        report[0].1
    );
}
