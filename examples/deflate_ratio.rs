//! Compression ratio of permessage-deflate settings on files sent as runs of messages, the way
//! the Autobahn 12.x cases send them: for each message size from 16 B to 128 KiB, 1000
//! messages cut one after the other from the file (wrapping around), with context takeover.
//!
//! `cargo run --release --example deflate_ratio -- FILE...` (the 12.x cases use the files in
//! the autobahntestsuite package's `testdata/` folder). Prints, per file and size, the
//! compressed payload bytes over the raw bytes for a 12-bit window with memory level 5 (the
//! server default) and for a 15-bit window with memory level 8 (zlib's defaults).

use std::time::Duration;

use wsproto::{Config, Connection, DeflateConfig, DeflateParams, Instant, Role, Seed};

const SIZES: [usize; 10] = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];
const SETTINGS: [(u8, u8); 2] = [(12, 5), (15, 8)];

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: deflate_ratio FILE...");
        std::process::exit(2);
    }
    release_cost();
    println!("| file | message size | 12 bits, mem 5 | 15 bits, mem 8 |");
    println!("| --- | --- | --- | --- |");
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let name = file.rsplit('/').next().unwrap_or(file);
        let mut totals = [(0usize, 0usize); 2];
        for size in SIZES {
            let mut row = format!("| {name} | {size} |");
            for (k, &(bits, mem_level)) in SETTINGS.iter().enumerate() {
                let (raw, packed) = run(&data, size, bits, mem_level);
                totals[k].0 += raw;
                totals[k].1 += packed;
                row += &format!(" {:.4} |", packed as f64 / raw as f64);
            }
            println!("{row}");
        }
        let [a, b] = totals.map(|(raw, packed)| packed as f64 / raw as f64);
        println!("| {name} | all sizes | {a:.4} | {b:.4} |");
    }
}

/// Sends 1000 messages of `size` bytes cut from `data` through a server connection; returns the
/// raw and the compressed payload bytes.
fn run(data: &[u8], size: usize, bits: u8, mem_level: u8) -> (usize, usize) {
    let deflate = DeflateConfig::default()
        .mem_level(mem_level)
        .compression_threshold(0)
        .release_after(None);
    let params = DeflateParams::new().with_server_max_window_bits(bits);
    let config = Config::default()
        .deflate(deflate)
        .max_pending_output(usize::MAX);
    let mut conn = Connection::upgraded_with_deflate(
        Role::Server,
        config,
        Seed([1; 32]),
        Instant::ZERO,
        params,
    );
    let (mut raw, mut packed) = (0, 0);
    let mut at = 0;
    for _ in 0..1000 {
        let msg: Vec<u8> = (0..size).map(|i| data[(at + i) % data.len()]).collect();
        at = (at + size) % data.len();
        conn.send_binary(&msg).unwrap();
        raw += msg.len();
        let wire: Vec<u8> = conn.transmit_slices().flatten().copied().collect();
        conn.advance_transmit(wire.len());
        packed += payload_len(&wire);
    }
    (raw, packed)
}

/// The payload bytes in a run of unmasked frames.
fn payload_len(mut wire: &[u8]) -> usize {
    let mut total = 0;
    while wire.len() >= 2 {
        let (len, header) = match wire[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(wire[2..10].try_into().unwrap())).unwrap(),
                10,
            ),
            n => (usize::from(n), 2),
        };
        total += len;
        wire = &wire[header + len..];
    }
    total
}

/// What an idle release costs: the time per 200-byte message with the zlib stream kept, and
/// with the stream released (and primed with the history again) before every message.
fn release_cost() {
    let msg: Vec<u8> = "{\"type\":\"message\",\"data\":{\"text\":\"今天天气很好 😀 \"}}"
        .repeat(4)
        .into_bytes();
    let params = DeflateParams::new().with_server_max_window_bits(12);
    for release in [false, true] {
        let mut conn = Connection::upgraded_with_deflate(
            Role::Server,
            Config::default().deflate(DeflateConfig::default()),
            Seed([1; 32]),
            Instant::ZERO,
            params,
        );
        let n = 20_000u32;
        let start = std::time::Instant::now();
        let mut now = Instant::ZERO;
        for _ in 0..n {
            conn.send_binary(&msg).unwrap();
            let len = conn.transmit_len();
            conn.advance_transmit(len);
            if release {
                // Two idle periods: the stream goes, the history stays.
                now = now + Duration::from_secs(1);
                conn.handle_timeout(now).unwrap();
                now = now + Duration::from_secs(1);
                conn.handle_timeout(now).unwrap();
            }
        }
        let per = start.elapsed() / n;
        let what = if release {
            "released before each"
        } else {
            "stream kept"
        };
        println!(
            "{} B message, 12 bits, mem 5, {what}: {per:?} per message",
            msg.len()
        );
    }
}
