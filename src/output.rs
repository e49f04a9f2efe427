//! The output queue: bytes waiting for the transport, as a list of segments.
//!
//! Small frames are appended to the last segment; a large owned payload becomes a segment of its
//! own, so it is never copied (a client masks it in place), and a shared payload (a server's
//! [`Bytes`], or a frame prepared once for a broadcast) is queued by reference. The caller writes
//! the segments out (vectored, if it likes) and reports how much went.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::Bytes;

/// Payloads at least this large are queued as their own segment when handed over owned.
pub(crate) const OWNED_SEGMENT_MIN: usize = 4096;
/// A drained segment with more capacity than this is freed rather than kept for reuse, so a
/// single large message does not pin its buffer for the connection's life.
pub(crate) const KEEP_CAPACITY: usize = 16 << 10;

/// One piece of the queue: a buffer the queue owns (and appends to), or shared bytes.
#[derive(Debug)]
enum Segment {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Segment {
    fn bytes(&self) -> &[u8] {
        match self {
            Segment::Owned(v) => v,
            Segment::Shared(b) => b,
        }
    }

    fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// Heap bytes this queue keeps alive through the segment.
    fn capacity(&self) -> usize {
        match self {
            Segment::Owned(v) => v.capacity(),
            Segment::Shared(b) => b.len(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Output {
    segments: VecDeque<Segment>,
    /// Bytes of the front segment already written.
    front_written: usize,
    /// Unwritten bytes in all segments.
    len: usize,
    /// A drained buffer kept for reuse.
    spare: Vec<u8>,
    /// The last segment was pushed whole (a large frame, sized exactly): small frames must not
    /// be appended to it, which would grow and copy it.
    sealed: bool,
}

impl Output {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The unwritten bytes of the front segment.
    pub(crate) fn front(&self) -> &[u8] {
        match self.segments.front() {
            Some(seg) => seg.bytes().get(self.front_written..).unwrap_or(&[]),
            None => &[],
        }
    }

    /// All unwritten bytes, segment by segment.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &[u8]> {
        self.segments.iter().enumerate().map(move |(i, s)| {
            if i == 0 {
                s.bytes().get(self.front_written..).unwrap_or(&[])
            } else {
                s.bytes()
            }
        })
    }

    /// The tail segment to append small frames to.
    pub(crate) fn tail(&mut self) -> &mut Vec<u8> {
        if self.sealed || !matches!(self.segments.back(), Some(Segment::Owned(_))) {
            let spare = core::mem::take(&mut self.spare);
            self.segments.push_back(Segment::Owned(spare));
            self.sealed = false;
        }
        match self.segments.back_mut() {
            Some(Segment::Owned(tail)) => tail,
            // Pushed just above.
            _ => unreachable!("the queue ends in an owned segment"),
        }
    }

    /// Records that `n` bytes were appended to [`tail`](Output::tail).
    pub(crate) fn appended(&mut self, n: usize) {
        self.len += n;
    }

    /// Queues an owned buffer as a segment of its own.
    pub(crate) fn push_segment(&mut self, seg: Vec<u8>) {
        self.push(Segment::Owned(seg));
    }

    /// Queues shared bytes as a segment of their own, by reference.
    pub(crate) fn push_shared(&mut self, bytes: Bytes) {
        self.push(Segment::Shared(bytes));
    }

    fn push(&mut self, seg: Segment) {
        // An empty tail would sit in front of the new segment and hide it from `front()`.
        if self.segments.back().is_some_and(Segment::is_empty)
            && let Some(empty) = self.segments.pop_back()
        {
            self.keep(empty);
        }
        self.len += seg.bytes().len();
        self.segments.push_back(seg);
        self.sealed = true;
    }

    /// Keeps a drained owned buffer for reuse if it is small enough and beats the one kept.
    fn keep(&mut self, seg: Segment) {
        if let Segment::Owned(mut buf) = seg
            && buf.capacity() <= KEEP_CAPACITY
            && buf.capacity() > self.spare.capacity()
        {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Marks `n` bytes as written, dropping drained segments.
    pub(crate) fn advance(&mut self, mut n: usize) {
        // The common case: one small buffer, all of it written. Empty it where it is.
        if n >= self.len
            && self.segments.len() == 1
            && !self.sealed
            && let Some(Segment::Owned(buf)) = self.segments.front_mut()
            && buf.capacity() <= KEEP_CAPACITY
        {
            buf.clear();
            self.len = 0;
            self.front_written = 0;
            return;
        }
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segments.front() else {
                break;
            };
            let left = front.bytes().len() - self.front_written;
            if left == 0 && self.segments.len() == 1 {
                // A kept empty tail: nothing more to drain.
                break;
            }
            if n < left {
                self.front_written += n;
                return;
            }
            n -= left;
            self.pop_front();
        }
        // Skip drained and empty segments so `front()` is non-empty whenever `len > 0` (once
        // all is written, a kept empty tail may stay).
        while self.len > 0
            && let Some(front) = self.segments.front()
        {
            if front.bytes().len() > self.front_written {
                break;
            }
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        self.front_written = 0;
        // The last segment drained, an unsealed small buffer: empty it where it is, so the next
        // frame is appended to it without a trip through the deque (the common case: one small
        // frame queued and written at a time).
        if self.segments.len() == 1
            && !self.sealed
            && let Some(Segment::Owned(buf)) = self.segments.front_mut()
            && buf.capacity() <= KEEP_CAPACITY
        {
            buf.clear();
            return;
        }
        if let Some(seg) = self.segments.pop_front() {
            self.keep(seg);
        }
    }

    /// Bytes held by the queue's buffers, for memory accounting.
    pub(crate) fn capacity(&self) -> usize {
        self.segments.iter().map(Segment::capacity).sum::<usize>() + self.spare.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn drain(out: &Output) -> Vec<u8> {
        out.segments().flatten().copied().collect()
    }

    #[test]
    fn keeps_order_across_segments_and_partial_writes() {
        let mut out = Output::default();
        out.tail().extend_from_slice(b"ab");
        out.appended(2);
        out.push_segment(vec![b'c'; 5000]);
        out.tail().extend_from_slice(b"de");
        out.appended(2);
        out.push_shared(Bytes::from_static(b"fg"));
        out.tail().extend_from_slice(b"h");
        out.appended(1);
        assert_eq!(out.len(), 5007);
        let mut expected = b"ab".to_vec();
        expected.extend(vec![b'c'; 5000]);
        expected.extend(b"defgh");
        assert_eq!(drain(&out), expected);
        out.advance(1);
        assert_eq!(out.front(), b"b");
        out.advance(3);
        assert_eq!(out.front().len(), 4998);
        out.advance(4998);
        assert_eq!(out.front(), b"de");
        out.advance(3);
        assert_eq!(out.front(), b"g");
        out.advance(1);
        assert_eq!(out.front(), b"h");
        out.advance(10);
        assert!(out.is_empty());
        assert_eq!(out.front(), b"");
    }
}
