//! Allocations per message through the tokio adapter, counted by a counting global allocator:
//! a message that arrives whole is handed out without an allocation, and a server sends without
//! one (the queue's buffer is reused, large payloads are queued by reference).
//!
//! The streams are in memory and never return `Pending`, and the futures are polled with a
//! no-op waker, so every allocation counted is the adapter's or the core's. Counts are per
//! thread, so tests running side by side do not disturb each other.
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsproto::io::Message;
use wsproto::io::tokio::WebSocketStream;
use wsproto::{Config, PreparedFrame, Role, Utf8Bytes};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's obligations are passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Polls a future that never waits (the streams are in memory) to completion, inside a tokio
/// runtime that only provides the timer the adapter's keepalive arms.
fn run<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _context = runtime.enter();
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// Serves prepared input in reads of at most 16 KiB and swallows writes.
struct Memory {
    input: Vec<u8>,
    at: usize,
    written: usize,
}

impl AsyncRead for Memory {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf
            .remaining()
            .min(16 << 10)
            .min(self.input.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.input[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Memory {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written += data.len();
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A chat line that is mostly multi-byte UTF-8.
const CHAT: &str = "こんにちは、世界！ 👋🏽 Grüße aus Zürich — ça va? 你好，朋友们 🎉";

/// `count` client frames (masked) of `payload`, opcode `opcode`.
fn client_frames(opcode: u8, payload: &[u8], count: usize) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame.repeat(count)
}

fn server_over(input: Vec<u8>) -> WebSocketStream<Memory> {
    let memory = Memory {
        input,
        at: 0,
        written: 0,
    };
    WebSocketStream::upgraded(memory, Role::Server, Config::default()).unwrap()
}

const MESSAGES: usize = 10_000;
const WARM_UP: usize = 100;

/// Receives `WARM_UP` messages, then counts the allocations of receiving `MESSAGES` more.
fn allocations_receiving(opcode: u8, payload: &[u8]) -> usize {
    let mut ws = server_over(client_frames(opcode, payload, WARM_UP + MESSAGES));
    run(async {
        for _ in 0..WARM_UP {
            ws.recv().await.unwrap().expect("a message, not the end");
        }
        let before = allocations();
        for _ in 0..MESSAGES {
            let message = ws.recv().await.unwrap().expect("a message, not the end");
            assert_eq!(message.as_payload(), payload);
        }
        allocations() - before
    })
}

#[test]
fn a_text_message_that_arrived_whole_costs_no_allocation() {
    let n = allocations_receiving(0x1, CHAT.as_bytes());
    println!("{n} allocations for {MESSAGES} text messages received");
    // The read buffer is reallocated now and then (when a read finds it still shared);
    // never once per message.
    assert!(
        n <= MESSAGES / 100,
        "{n} allocations for {MESSAGES} messages"
    );
}

#[test]
fn a_binary_message_that_arrived_whole_costs_no_allocation() {
    for size in [16, 1000, 20_000] {
        let n = allocations_receiving(0x2, &vec![0xa5; size]);
        println!("{n} allocations for {MESSAGES} binary messages of {size} B received");
        assert!(n <= MESSAGES / 100, "{size} B: {n} allocations");
    }
}

/// Counts the allocations of a server sending `MESSAGES` messages made by `message`.
fn allocations_sending(message: impl Fn() -> Message) -> usize {
    let mut ws = server_over(Vec::new());
    run(async {
        for _ in 0..WARM_UP {
            ws.send(message()).await.unwrap();
        }
        let before = allocations();
        for _ in 0..MESSAGES {
            ws.send(message()).await.unwrap();
        }
        let n = allocations() - before;
        assert!(ws.get_ref().written >= MESSAGES * message().len());
        n
    })
}

#[test]
fn a_server_send_costs_no_allocation() {
    let text = Utf8Bytes::from_static(CHAT);
    let n = allocations_sending(|| Message::Text(text.clone()));
    println!("{n} allocations for {MESSAGES} text sends");
    assert_eq!(n, 0);
    let large = Bytes::from(vec![7u8; 64 << 10]);
    let n = allocations_sending(|| Message::Binary(large.clone()));
    println!("{n} allocations for {MESSAGES} 64 KiB binary sends (queued by reference)");
    assert_eq!(n, 0);
}

#[test]
fn a_prepared_broadcast_costs_no_allocation_per_connection() {
    let small = PreparedFrame::text(CHAT);
    let large = PreparedFrame::binary(vec![9u8; 64 << 10]);
    let mut room: Vec<_> = (0..100).map(|_| server_over(Vec::new())).collect();
    run(async {
        for ws in &mut room {
            ws.send_prepared(&small).await.unwrap();
            ws.send_prepared(&large).await.unwrap();
        }
        let before = allocations();
        for _ in 0..10 {
            for ws in &mut room {
                ws.send_prepared(&small).await.unwrap();
                ws.send_prepared(&large).await.unwrap();
            }
        }
        let n = allocations() - before;
        println!("{n} allocations for 2,000 prepared sends");
        assert_eq!(n, 0);
    });
    for ws in &room {
        let frames = small.wire_bytes().len() + large.header().len() + large.payload().len();
        assert_eq!(ws.get_ref().written, 11 * frames);
    }
}
