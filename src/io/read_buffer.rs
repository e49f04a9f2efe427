//! [`ReadBuffer`]: the adapters' read buffer, from which whole messages are handed out uncopied.

use bytes::buf::Limit;
use bytes::{BufMut, Bytes, BytesMut};

use super::{DEFAULT_READ_BUFFER, MAX_READ_BUFFER};

/// The read buffer the adapters use, public for custom transports that drive the core
/// themselves.
///
/// `filled()` holds bytes the core has not consumed yet. The buffer starts at
/// [`DEFAULT_READ_BUFFER`], doubles while reads fill it (up to [`MAX_READ_BUFFER`], or past it
/// up to what [`Connection::input_needed`](crate::Connection::input_needed) asks for, so a large
/// frame is lent in place). It grows only as bytes arrive: a frame's declared length is never
/// allocated up front.
///
/// It is a [`BytesMut`], so a message the core lent in place can be taken out with
/// [`take`](ReadBuffer::take) as [`Bytes`] without a copy: the message then shares the buffer's
/// allocation, which is reused once every message taken from it is dropped (until then new
/// reads go to a fresh allocation). A message kept for long keeps its whole buffer alive: copy
/// it (`Bytes::copy_from_slice`) if that matters.
///
/// It is freed by [`release_if_empty`](ReadBuffer::release_if_empty) (the async adapters call it
/// before waiting, so an idle connection holds none) or
/// [`shrink_if_empty`](ReadBuffer::shrink_if_empty) (the blocking adapter, after a large message).
///
/// ```
/// # use wsproto::io::ReadBuffer;
/// # use wsproto::{Config, Connection, Event, Instant, Role, Seed};
/// let mut conn = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), Instant::ZERO);
/// let mut buf = ReadBuffer::new();
/// let wire = [0x81, 0x02, b'h', b'i']; // an unmasked text frame from the server
/// let spare = buf.spare(conn.input_needed());
/// spare[..wire.len()].copy_from_slice(&wire); // a transport read
/// buf.filled_by(wire.len());
/// let recv = conn.recv(Instant::ZERO, buf.filled())?;
/// let consumed = recv.consumed;
/// assert!(matches!(recv.event, Some(Event::Message(_))));
/// // The frame's bytes, header and payload, taken out of the buffer without a copy.
/// let frame = buf.take(consumed);
/// assert_eq!(&frame[2..], b"hi");
/// assert!(buf.is_empty());
/// # Ok::<(), wsproto::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ReadBuffer {
    /// `data[..pending]` is unconsumed input. When reads go through
    /// [`spare`](ReadBuffer::spare), `data[pending..]` is zeroed room kept for the next read.
    data: BytesMut,
    pending: usize,
    /// The buffer size aimed for: it doubles while reads fill what they are offered.
    size: usize,
    /// The last read filled all the space it was given: more is probably waiting.
    grow: bool,
    /// The length of the space the last read was offered.
    offered: usize,
}

impl ReadBuffer {
    /// An empty buffer; nothing is allocated until the first read.
    pub fn new() -> Self {
        ReadBuffer::default()
    }

    /// The unconsumed bytes: pass them to [`Connection::recv`](crate::Connection::recv).
    #[inline]
    pub fn filled(&mut self) -> &mut [u8] {
        &mut self.data[..self.pending]
    }

    /// Where the unconsumed bytes start in memory: with it, a payload the core lent from
    /// [`filled`](ReadBuffer::filled) is located in the buffer by address.
    #[inline]
    pub(crate) fn filled_addr(&self) -> usize {
        self.data.as_ptr() as usize
    }

    /// Whether every byte read has been consumed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// The bytes allocated behind the unconsumed input (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Marks the first `n` unconsumed bytes as used (`Recv::consumed`).
    #[inline]
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.pending);
        bytes::Buf::advance(&mut self.data, n);
        self.pending -= n;
    }

    /// Consumes the first `n` unconsumed bytes and hands them out, uncopied.
    #[inline]
    pub fn take(&mut self, n: usize) -> Bytes {
        let n = n.min(self.pending);
        self.pending -= n;
        self.data.split_to(n).freeze()
    }

    /// Consumes the first `consumed` unconsumed bytes and hands out `len` of them from `offset`
    /// on (a payload the core lent), uncopied, with one split of the buffer.
    #[inline]
    pub fn take_range(&mut self, consumed: usize, offset: usize, len: usize) -> Bytes {
        let consumed = consumed.min(self.pending);
        let offset = offset.min(consumed);
        let end = offset + len.min(consumed - offset);
        let mut taken = self.take(end);
        // Moving a `Bytes`'s start is pointer arithmetic; the header goes with the handle.
        bytes::Buf::advance(&mut taken, offset);
        if consumed > end {
            self.consume(consumed - end);
        }
        taken
    }

    /// Frees the buffer if it holds no unconsumed bytes: call it before waiting for the
    /// transport, so an idle connection holds no read buffer at all.
    pub fn release_if_empty(&mut self) {
        if self.pending == 0 {
            *self = ReadBuffer::new();
        }
    }

    /// Frees the buffer if it holds no unconsumed bytes and grew past [`DEFAULT_READ_BUFFER`]:
    /// for a caller that cannot tell when it will wait, after each message.
    pub fn shrink_if_empty(&mut self) {
        if self.size > DEFAULT_READ_BUFFER {
            self.release_if_empty();
        }
    }

    /// Zeroed space to read into. `needed` is
    /// [`Connection::input_needed`](crate::Connection::input_needed): when the unconsumed bytes
    /// are the start of a frame of that many bytes, the buffer may grow past [`MAX_READ_BUFFER`]
    /// to hold it whole, and, when more than [`DEFAULT_READ_BUFFER`] of it is still to come, the
    /// space offered ends a little past the frame's end, so the next frame does not straddle the
    /// buffer's end and get moved. Report the bytes read with
    /// [`filled_by`](ReadBuffer::filled_by).
    pub fn spare(&mut self, needed: usize) -> &mut [u8] {
        let offered = self.prepare(needed);
        let end = self.pending + offered;
        if self.data.len() < end {
            // Only the part never offered before is zeroed: offered room is kept initialized.
            self.data.resize(end, 0);
        }
        &mut self.data[self.pending..end]
    }

    /// As [`spare`](ReadBuffer::spare), but uninitialized: for a reader that fills a
    /// [`BufMut`] (tokio's `AsyncReadExt::read_buf`), which saves zeroing the space. Report the
    /// bytes read with [`filled_by`](ReadBuffer::filled_by).
    pub fn spare_uninit(&mut self, needed: usize) -> Limit<&mut BytesMut> {
        let offered = self.prepare(needed);
        (&mut self.data).limit(offered)
    }

    /// Records that a read put `n` bytes into the space last offered.
    #[inline]
    pub fn filled_by(&mut self, n: usize) {
        self.grow = n > 0 && n == self.offered;
        self.pending = (self.pending + n).min(self.data.len());
    }

    /// Sizes the buffer for the next read; returns how many bytes that read may bring.
    fn prepare(&mut self, needed: usize) -> usize {
        let pending = self.pending;
        let awaited = needed.saturating_sub(pending);
        let cap = MAX_READ_BUFFER.max(needed);
        self.size = if self.size == 0 {
            DEFAULT_READ_BUFFER
        } else if self.grow {
            // Doubling as reads fill it, so memory follows the bytes that actually arrived.
            self.size
                .saturating_mul(2)
                .min(cap)
                .max(pending + DEFAULT_READ_BUFFER)
        } else {
            self.size
        };
        let room = self
            .size
            .saturating_sub(pending)
            .max(awaited)
            .max(DEFAULT_READ_BUFFER / 4);
        let available = self.data.capacity() - pending;
        if available < awaited.min(room) || available < room / 2 {
            // Forget the zeroed room so only unconsumed bytes move: to the front of this
            // allocation if no message taken from it is alive, else to a new one.
            self.data.truncate(pending);
            self.data.reserve(room);
        }
        let available = self.data.capacity() - pending;
        // Only a large awaited frame caps the read: small frames are many to a read, and
        // capping at each one's end would turn one large read into many small ones.
        let limit = if awaited > DEFAULT_READ_BUFFER {
            awaited.saturating_add(DEFAULT_READ_BUFFER)
        } else {
            usize::MAX
        };
        self.offered = available.min(room).min(limit);
        self.offered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn taken_bytes_share_the_buffer_and_later_reads_do_not_disturb_them() {
        let mut buf = ReadBuffer::new();
        let spare = buf.spare(0);
        spare[..6].copy_from_slice(b"abcdef");
        buf.filled_by(6);
        let addr = buf.filled_addr();
        let first = buf.take(3);
        assert_eq!(&first[..], b"abc");
        assert_eq!(first.as_ptr() as usize, addr);
        assert_eq!(buf.filled(), b"def");
        // Fill far past the buffer so it must move or reallocate.
        let big: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut at = 0;
        while at < big.len() {
            let spare = buf.spare(0);
            let n = spare.len().min(big.len() - at);
            spare[..n].copy_from_slice(&big[at..at + n]);
            buf.filled_by(n);
            at += n;
        }
        assert_eq!(&first[..], b"abc");
        assert_eq!(&buf.filled()[..3], b"def");
        assert_eq!(&buf.filled()[3..], &big[..]);
    }

    #[test]
    fn uninit_reads_see_the_same_bytes() {
        let mut buf = ReadBuffer::new();
        let mut target = buf.spare_uninit(0);
        target.put_slice(b"hello");
        buf.filled_by(5);
        assert_eq!(buf.filled(), b"hello");
        buf.consume(2);
        assert_eq!(buf.filled(), b"llo");
        assert_eq!(&buf.take(3)[..], b"llo");
        assert!(buf.is_empty());
    }

    #[test]
    fn a_large_awaited_frame_grows_the_buffer_to_hold_it_whole() {
        let mut buf = ReadBuffer::new();
        let needed = 1 << 20;
        let mut total = 0;
        while total < needed {
            let n = buf.spare(needed).len();
            assert!(n > 0);
            buf.filled_by(n.min(needed - total));
            total = buf.filled().len();
        }
        assert!(buf.capacity() >= needed);
        // The read was capped a little past the frame's end.
        assert!(buf.filled().len() <= needed + DEFAULT_READ_BUFFER);
    }
}
