//! What the room has for one member and the member has not taken yet, measured in bytes.
//!
//! Fan-out never waits for a member: frames are queued here and the member's own task writes
//! them out. A member that keeps reading is never dropped, however bursty the room. It is dropped
//! when its backlog has stayed over [`BACKLOG_BYTES`] for [`BACKLOG_TIME`], or at once past
//! [`BACKLOG_HARD_BYTES`], which bounds the memory one stalled member can hold. Senders are
//! slowed down before that (see `session::RATE`), so a flood cannot push readers over.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wsproto::PreparedFrame;

/// The backlog a member may carry for [`BACKLOG_TIME`]: 1 MiB.
pub const BACKLOG_BYTES: usize = 1 << 20;
/// How long a member may stay over [`BACKLOG_BYTES`]: 10 s.
pub const BACKLOG_TIME: Duration = Duration::from_secs(10);
/// The backlog that drops a member at once: 8 MiB.
pub const BACKLOG_HARD_BYTES: usize = 8 << 20;

/// One member's queue.
#[derive(Default)]
pub struct Outbox {
    state: Mutex<State>,
    ready: Notify,
}

#[derive(Default)]
struct State {
    frames: VecDeque<PreparedFrame>,
    bytes: usize,
    over_since: Option<Instant>,
    dropped: Option<&'static str>,
}

/// The bytes a frame puts on the wire (before compression).
fn size(frame: &PreparedFrame) -> usize {
    frame.header().len() + frame.payload().len()
}

/// What [`Outbox::pop`] found.
pub enum Pop {
    /// The next frame to write.
    Frame(PreparedFrame),
    /// Nothing queued.
    Empty,
    /// The member fell too far behind; the reason goes into the close frame.
    Dropped(&'static str),
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame, or drops the member if it is too far behind.
    pub fn push(&self, frame: PreparedFrame) {
        self.push_at(frame, Instant::now());
    }

    fn push_at(&self, frame: PreparedFrame, now: Instant) {
        let mut state = self.lock();
        if state.dropped.is_some() {
            return;
        }
        state.bytes += size(&frame);
        state.frames.push_back(frame);
        if state.bytes > BACKLOG_HARD_BYTES {
            state.dropped = Some("too slow: over 8 MiB behind");
        } else if state.bytes > BACKLOG_BYTES {
            let since = *state.over_since.get_or_insert(now);
            if now.duration_since(since) > BACKLOG_TIME {
                state.dropped = Some("too slow: over 1 MiB behind for 10 s");
            }
        }
        if state.dropped.is_some() {
            state.frames.clear();
            state.bytes = 0;
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The next frame to write.
    pub fn pop(&self) -> Pop {
        let mut state = self.lock();
        if let Some(reason) = state.dropped {
            return Pop::Dropped(reason);
        }
        let Some(frame) = state.frames.pop_front() else {
            return Pop::Empty;
        };
        state.bytes -= size(&frame);
        if state.bytes <= BACKLOG_BYTES {
            state.over_since = None;
        }
        Pop::Frame(frame)
    }

    /// Resolves when something was pushed since the last call (a push while nobody waits is
    /// remembered).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Wakes the member's task as if something had been pushed: to come back to a queue it left
    /// unfinished.
    pub fn wake(&self) {
        self.ready.notify_one();
    }

    /// Bytes queued.
    #[cfg(test)]
    pub fn backlog(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> PreparedFrame {
        PreparedFrame::text("字".repeat(len / 3))
    }

    #[test]
    fn a_member_that_keeps_reading_is_never_dropped() {
        let outbox = Outbox::default();
        let start = Instant::now();
        // 10 minutes of a busy room: 2 MiB arrive each second and the member takes them.
        for second in 0..600u64 {
            let now = start + Duration::from_secs(second);
            for _ in 0..64 {
                outbox.push_at(frame(32 << 10), now);
            }
            while let Pop::Frame(_) = outbox.pop() {}
        }
        assert!(matches!(outbox.pop(), Pop::Empty));
    }

    #[test]
    fn a_member_over_the_budget_for_the_time_budget_is_dropped() {
        let outbox = Outbox::default();
        let start = Instant::now();
        for _ in 0..40 {
            outbox.push_at(frame(32 << 10), start);
        }
        assert!(outbox.backlog() > BACKLOG_BYTES);
        // Over the budget, but not for long enough.
        outbox.push_at(frame(32 << 10), start + BACKLOG_TIME);
        assert!(matches!(outbox.pop(), Pop::Frame(_)));
        outbox.push_at(
            frame(32 << 10),
            start + BACKLOG_TIME + Duration::from_millis(1),
        );
        assert!(matches!(outbox.pop(), Pop::Dropped(r) if r.contains("10 s")));
        assert_eq!(outbox.backlog(), 0, "a dropped member holds nothing");
    }

    #[test]
    fn a_short_burst_over_the_budget_is_forgiven() {
        let outbox = Outbox::default();
        let start = Instant::now();
        for _ in 0..40 {
            outbox.push_at(frame(32 << 10), start);
        }
        while let Pop::Frame(_) = outbox.pop() {}
        // Caught up: the clock restarts.
        for _ in 0..40 {
            outbox.push_at(frame(32 << 10), start + BACKLOG_TIME * 2);
        }
        assert!(matches!(outbox.pop(), Pop::Frame(_)));
    }

    #[test]
    fn the_hard_limit_drops_at_once() {
        let outbox = Outbox::default();
        let now = Instant::now();
        for _ in 0..(BACKLOG_HARD_BYTES / (32 << 10) + 1) {
            outbox.push_at(frame(32 << 10), now);
        }
        assert!(matches!(outbox.pop(), Pop::Dropped(r) if r.contains("8 MiB")));
    }
}
