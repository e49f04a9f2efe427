//! Splitting an async [`WebSocketStream`] into a [`ReadHalf`] and a [`WriteHalf`].

use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Wake;

use futures_core::Stream;
use futures_sink::Sink;

use super::driver::{Driver, Runtime};
use super::stream::WebSocketStream;
use super::{Message, WsResult};
use crate::close::CloseCode;
use crate::connection::State;
use crate::event::DataKind;
use crate::prepared::PreparedFrame;

/// Puts a stream's driver behind the lock the halves share.
pub(crate) fn split<R: Runtime>(ws: WebSocketStream<R>) -> (ReadHalf<R>, WriteHalf<R>) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(ws.driver),
        wakers: Arc::new(FanOut::default()),
    });
    (
        ReadHalf {
            shared: Arc::clone(&shared),
        },
        WriteHalf { shared },
    )
}

/// Which half is polling.
#[derive(Clone, Copy)]
enum Side {
    Read = 0,
    Write = 1,
}

/// A waker that wakes both halves: the stream and the timer keep only the last waker they were
/// polled with, and either half may be the one waiting on a direction.
#[derive(Debug, Default)]
struct FanOut {
    wakers: Mutex<[Option<Waker>; 2]>,
}

impl FanOut {
    fn slots(&self) -> MutexGuard<'_, [Option<Waker>; 2]> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, side: Side, waker: &Waker) {
        let mut slots = self.slots();
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake_side(&self, side: Side) {
        let waker = self.slots()[side as usize].take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let [read, write] = {
            let mut slots = self.slots();
            [slots[0].take(), slots[1].take()]
        };
        for waker in [read, write].into_iter().flatten() {
            waker.wake();
        }
    }
}

#[derive(Debug)]
struct Shared<S> {
    inner: Mutex<Driver<S>>,
    wakers: Arc<FanOut>,
}

impl<S: Runtime> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Driver<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one poll step on the locked connection with the fan-out waker.
    fn poll_with<R>(
        &self,
        side: Side,
        cx: &mut Context<'_>,
        step: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> R,
    ) -> R {
        self.wakers.register(side, cx.waker());
        let waker = Waker::from(Arc::clone(&self.wakers));
        let mut cx = Context::from_waker(&waker);
        let (result, wake) = {
            let mut inner = self.lock();
            let before = inner.conn.transmit_len();
            let result = step(&mut inner, &mut cx);
            let after = inner.conn.transmit_len();
            let wake = match side {
                // The writer may be waiting for the room the reader's flush just made.
                Side::Read => (after < before).then_some(Side::Write),
                // The reader may be waiting to shut the transport down after the last write.
                Side::Write => {
                    (after < before && after == 0 && inner.conn.state() == State::Closed)
                        .then_some(Side::Read)
                }
            };
            (result, wake)
        };
        if let Some(other) = wake {
            self.wakers.wake_side(other);
        }
        result
    }

    /// Runs a write-half command; wakes the read half if the command moved a timer.
    fn command<R>(&self, step: impl FnOnce(&mut Driver<S>) -> R) -> R {
        let (result, stale) = {
            let mut inner = self.lock();
            let result = step(&mut inner);
            (result, inner.timer_stale())
        };
        if stale {
            self.wakers.wake_side(Side::Read);
        }
        result
    }
}

/// The receiving half of a split [`WebSocketStream`]: it also flushes automatic replies and
/// runs the timers.
///
/// The connection, the read buffer and the stream go behind an internal [`std::sync::Mutex`]
/// shared by the two halves. A `std` mutex, not an async one, because the lock is only ever held
/// for one synchronous poll step and never across an `.await`: nothing blocks on it for long,
/// and a poll function cannot await an async lock. The halves poll the stream with a waker that
/// wakes both of them, so neither steals the other's wakeup (a stream keeps one waker per
/// direction, and the read half also writes).
///
/// The duties cross between the halves like this:
///
/// - The [`ReadHalf`] writes out everything queued, so pongs and the close echo are flushed
///   even while the [`WriteHalf`] is idle; it also runs all timers and shuts the transport down
///   at the end. Keep a task reading (and drop the read half only when you are done): without
///   it, pings go unanswered and a close handshake never completes.
/// - The [`WriteHalf`] queues and flushes messages; its [`close`](WriteHalf::close) (or
///   [`Sink::poll_close`]) sends the close frame, and the read half then sees the peer's answer
///   and ends. A close or send that arms or moves a timer wakes the read half so its sleep is
///   re-armed.
/// - Once the read half has seen the peer's close, sends from the write half fail with
///   [`WsError::Closed`](super::WsError::Closed), with the peer's close frame.
///
/// [`ReadHalf::reunite`] puts the halves back together.
#[derive(Debug)]
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a split [`WebSocketStream`]. See [`ReadHalf`] for who does what.
#[derive(Debug)]
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

/// [`ReadHalf::reunite`] was given halves of two different streams; both are handed back.
#[derive(Debug)]
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> core::fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("tried to reunite halves of different WebSocket streams")
    }
}

impl<S: core::fmt::Debug> std::error::Error for ReuniteError<S> {}

impl<S: Runtime> ReadHalf<S> {
    /// As [`WebSocketStream::recv`]; cancel safe.
    ///
    /// # Errors
    /// As [`WebSocketStream::recv`].
    pub async fn recv(&mut self) -> WsResult<Option<Message>> {
        poll_fn(|cx| {
            self.shared
                .poll_with(Side::Read, cx, |inner, cx| inner.poll_message(cx))
        })
        .await
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.shared.lock().conn.state() == State::Open
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    /// [`ReuniteError`] if `write` belongs to another stream.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocketStream<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(WebSocketStream {
                driver: shared
                    .inner
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner),
            }),
            // Both halves were the only owners; this cannot happen.
            Err(shared) => {
                let read = ReadHalf {
                    shared: Arc::clone(&shared),
                };
                Err(ReuniteError(read, WriteHalf { shared }))
            }
        }
    }
}

impl<S: Runtime> Stream for ReadHalf<S> {
    type Item = WsResult<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared
            .poll_with(Side::Read, cx, |inner, cx| inner.poll_message(cx))
            .map(Result::transpose)
    }
}

impl<S: Runtime> WriteHalf<S> {
    /// As [`WebSocketStream::send`].
    ///
    /// # Errors
    /// As [`WebSocketStream::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> WsResult<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(message.into())?;
        self.flush().await
    }

    /// As [`WebSocketStream::send_prepared`].
    ///
    /// # Errors
    /// As [`WebSocketStream::send`].
    pub async fn send_prepared(&mut self, frame: &PreparedFrame) -> WsResult<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        self.shared
            .command(|inner| inner.start_send_prepared(frame))?;
        self.flush().await
    }

    /// As [`WebSocketStream::send_fragment`].
    ///
    /// # Errors
    /// As [`WebSocketStream::send_fragment`].
    pub async fn send_fragment(&mut self, kind: DataKind, data: &[u8], last: bool) -> WsResult<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        self.shared
            .command(|inner| inner.send_fragment(kind, data, last))?;
        self.flush().await
    }

    /// Sends a close frame; the [`ReadHalf`] sees the peer's answer and ends.
    ///
    /// # Errors
    /// As [`WebSocketStream::close`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> WsResult<()> {
        self.shared.command(|inner| inner.close(code, reason))?;
        self.flush().await
    }

    /// Writes all queued output and flushes the stream.
    ///
    /// # Errors
    /// I/O errors from the stream.
    pub async fn flush(&mut self) -> WsResult<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.shared.lock().conn.state() == State::Open
    }
}

impl<S: Runtime> Sink<Message> for WriteHalf<S> {
    type Error = super::WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        self.shared
            .poll_with(Side::Write, cx, |inner, cx| inner.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> WsResult<()> {
        self.shared.command(|inner| inner.start_send(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        self.shared
            .poll_with(Side::Write, cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        let shared = &self.shared;
        let result = shared.poll_with(Side::Write, cx, |inner, cx| inner.poll_close(cx));
        if shared.lock().timer_stale() {
            shared.wakers.wake_side(Side::Read);
        }
        result
    }
}
