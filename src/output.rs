//! The output queue: bytes waiting for the transport, as a list of segments.
//!
//! Small frames are appended to the last segment; a large owned payload becomes a segment of its
//! own, so it is never copied (a client masks it in place). The caller writes the segments out
//! (vectored, if it likes) and reports how much went.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Payloads at least this large are queued as their own segment when handed over owned.
pub(crate) const OWNED_SEGMENT_MIN: usize = 4096;
/// A drained segment with more capacity than this is freed rather than kept for reuse, so a
/// single large message does not pin its buffer for the connection's life.
pub(crate) const KEEP_CAPACITY: usize = 16 << 10;

#[derive(Debug, Default)]
pub(crate) struct Output {
    segments: VecDeque<Vec<u8>>,
    /// Bytes of the front segment already written.
    front_written: usize,
    /// Unwritten bytes in all segments.
    len: usize,
    /// A drained buffer kept for reuse.
    spare: Vec<u8>,
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
            Some(seg) => seg.get(self.front_written..).unwrap_or(&[]),
            None => &[],
        }
    }

    /// All unwritten bytes, segment by segment.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &[u8]> {
        self.segments.iter().enumerate().map(move |(i, s)| {
            if i == 0 {
                s.get(self.front_written..).unwrap_or(&[])
            } else {
                &s[..]
            }
        })
    }

    /// The tail segment to append small frames to.
    pub(crate) fn tail(&mut self) -> &mut Vec<u8> {
        if self.segments.is_empty() {
            let spare = core::mem::take(&mut self.spare);
            self.segments.push_back(spare);
        }
        // Not empty: pushed above if it was.
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    /// Records that `n` bytes were appended to [`tail`](Output::tail).
    pub(crate) fn appended(&mut self, n: usize) {
        self.len += n;
    }

    /// Queues an owned buffer as a segment of its own.
    pub(crate) fn push_segment(&mut self, seg: Vec<u8>) {
        // An empty tail would sit in front of the new segment and hide it from `front()`.
        if self.segments.back().is_some_and(Vec::is_empty)
            && let Some(empty) = self.segments.pop_back()
            && empty.capacity() > self.spare.capacity()
        {
            self.spare = empty;
        }
        self.len += seg.len();
        self.segments.push_back(seg);
        // Later small frames go after it, in a fresh segment.
        self.segments.push_back(Vec::new());
    }

    /// Marks `n` bytes as written, dropping drained segments.
    pub(crate) fn advance(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segments.front() else {
                break;
            };
            let left = front.len() - self.front_written;
            if n < left {
                self.front_written += n;
                return;
            }
            n -= left;
            self.pop_front();
        }
        // Skip drained and empty segments so `front()` is non-empty whenever `len > 0`.
        while let Some(front) = self.segments.front() {
            if front.len() > self.front_written {
                break;
            }
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        self.front_written = 0;
        if let Some(mut seg) = self.segments.pop_front()
            && seg.capacity() <= KEEP_CAPACITY
            && seg.capacity() > self.spare.capacity()
        {
            seg.clear();
            self.spare = seg;
        }
    }

    /// Bytes held by the queue's buffers, for memory accounting.
    pub(crate) fn capacity(&self) -> usize {
        self.segments.iter().map(Vec::capacity).sum::<usize>() + self.spare.capacity()
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
        assert_eq!(out.len(), 5004);
        let mut expected = b"ab".to_vec();
        expected.extend(vec![b'c'; 5000]);
        expected.extend(b"de");
        assert_eq!(drain(&out), expected);
        out.advance(1);
        assert_eq!(out.front(), b"b");
        out.advance(3);
        assert_eq!(out.front().len(), 4998);
        out.advance(4998);
        assert_eq!(out.front(), b"de");
        out.advance(10);
        assert!(out.is_empty());
        assert_eq!(out.front(), b"");
    }
}
