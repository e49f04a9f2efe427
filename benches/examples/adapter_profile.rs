//! A profiling harness for the tokio adapter: receives or sends COUNT binary messages of SIZE
//! bytes through `io::tokio::WebSocketStream` over an in-memory stream, with no runtime (the
//! stream never waits, so one poll with a no-op waker completes each call; a tokio runtime is
//! entered only for the keepalive's timer). `KEEPALIVE=off` in the environment turns the
//! adapters' default keepalive off, to see what it costs. The profiles in
//! `docs/profiles/` were taken with it:
//!
//! ```sh
//! cargo build --release -p wsproto-benches --example adapter_profile
//! valgrind --tool=callgrind target/release/examples/adapter_profile recv 100000 16
//! perf record target/release/examples/adapter_profile recv 4000 1048576
//! perf record target/release/examples/adapter_profile send 5000000 16
//! ```

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsproto::bytes::Bytes;
use wsproto::io::Message;
use wsproto::io::tokio::WebSocketStream;
use wsproto::{Config, Role};

/// Serves `data` over and over, as a socket would (copied into the unfilled room, nothing
/// zeroed), and swallows writes.
struct Memory {
    data: Vec<u8>,
    at: usize,
}

impl AsyncRead for Memory {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at == self.data.len() {
            self.at = 0;
        }
        let n = buf.remaining().min(self.data.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Memory {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, d: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(d.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// One client-masked binary frame of `size` bytes.
fn masked_frame(size: usize) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut frame = vec![0x82u8];
    match size {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend(key);
    frame.extend((0..size).map(|i| (i as u8) ^ key[i % 4]));
    frame
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: adapter_profile recv|send COUNT SIZE",
        )
    };
    let mode = args.get(1).ok_or_else(usage)?.clone();
    let count: usize = args.get(2).and_then(|a| a.parse().ok()).ok_or_else(usage)?;
    let size: usize = args.get(3).and_then(|a| a.parse().ok()).ok_or_else(usage)?;
    let frames = masked_frame(size).repeat(((4 << 20) / size.max(1)).max(1));
    let config = match std::env::var("KEEPALIVE").as_deref() {
        Ok("off") => Config::default().no_keepalive(),
        _ => Config::default(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let _context = runtime.enter();
    let work = async {
        let mut total = 0usize;
        if mode == "send" {
            let memory = Memory {
                data: Vec::new(),
                at: 0,
            };
            let mut ws = WebSocketStream::upgraded(memory, Role::Client, config.clone())?;
            let payload = Bytes::from(vec![7u8; size]);
            for _ in 0..count {
                ws.send(Message::Binary(payload.clone())).await?;
                total += size;
            }
        } else {
            let memory = Memory {
                data: frames,
                at: 0,
            };
            let mut ws = WebSocketStream::upgraded(memory, Role::Server, config.clone())?;
            for _ in 0..count {
                total += ws.recv().await?.map_or(0, |m| m.len());
            }
        }
        Ok::<usize, io::Error>(total)
    };
    let mut work = pin!(work);
    let mut cx = Context::from_waker(Waker::noop());
    let total = loop {
        if let Poll::Ready(result) = work.as_mut().poll(&mut cx) {
            break result?;
        }
    };
    println!("{mode}: {count} messages, {total} payload bytes");
    Ok(())
}
