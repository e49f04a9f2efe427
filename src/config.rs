//! Limits, timers and delivery mode, with documented defaults.

use core::time::Duration;

/// How data messages are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// Whole messages ([`Event::Message`](crate::Event::Message)), reassembled from fragments
    /// and bounded by [`Config::max_message_size`]. A message that arrives whole in one read
    /// borrows the caller's buffer; otherwise it is reassembled in a buffer that the event hands
    /// over.
    #[default]
    Messages,
    /// Pieces as they arrive ([`Event::Chunk`](crate::Event::Chunk)), unmasked in place in the
    /// caller's buffer. Memory stays bounded for any message size; `max_message_size` still
    /// applies (set it to `u64::MAX` to stream without limit). A compressed message
    /// (permessage-deflate) arrives as owned, inflated chunks, each from at most 4 KiB of
    /// compressed input, so at most about 4 MiB.
    Chunks,
}

/// Connection settings. Every limit has a default, chosen so that the Autobahn TestSuite's
/// largest cases (16 MiB frames, 4 MiB messages in 64-byte fragments) pass unchanged.
///
/// | setting | default |
/// | --- | --- |
/// | [`max_frame_size`](Config::max_frame_size) | 16 MiB |
/// | [`max_message_size`](Config::max_message_size) | 64 MiB |
/// | [`max_fragments`](Config::max_fragments) | 131,072 |
/// | [`max_handshake_size`](Config::max_handshake_size) | 16 KiB |
/// | [`max_headers`](Config::max_headers) | 64 |
/// | [`max_pending_output`](Config::max_pending_output) | 128 MiB |
/// | [`delivery`](Config::delivery) | whole messages |
/// | [`whole_frame_limit`](Config::whole_frame_limit) | 0 (off; the I/O adapters use `max_frame_size`) |
/// | all four timers | off |
/// | [`deflate`](Config::deflate) (feature `deflate`) | off |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted; a larger declared length fails with 1009 as soon as
    /// the header arrives, before any payload is buffered.
    pub max_frame_size: u64,
    /// The largest message accepted (after decompression, with permessage-deflate); exceeding
    /// it fails with 1009 as soon as it is known.
    pub max_message_size: u64,
    /// The most frames one data message may span; more fail with 1009. Bounds the work an
    /// attacker can cause with floods of empty continuation frames.
    pub max_fragments: u32,
    /// The most bytes of an opening-handshake head (request or response line plus headers);
    /// more fail with HTTP 431.
    pub max_handshake_size: usize,
    /// The most headers in an opening-handshake head; more fail with HTTP 431.
    pub max_headers: usize,
    /// The most bytes that may wait in the output queue. A send that would pass it returns
    /// [`SendError::OutputFull`](crate::SendError::OutputFull) and queues nothing; automatic
    /// replies (one pending pong, the close echo) are never refused. Read the queue's size with
    /// [`Connection::transmit_len`](crate::Connection::transmit_len).
    pub max_pending_output: usize,
    /// Whole messages or streaming chunks.
    pub delivery: Delivery,
    /// With [`Delivery::Messages`]: an uncompressed single-frame message whose payload is at
    /// most this many bytes is lent from the input in place, never copied. When only part of it
    /// has arrived, [`recv`](crate::Connection::recv) leaves the payload unconsumed and
    /// [`input_needed`](crate::Connection::input_needed) says how many bytes the input must hold;
    /// the caller grows its buffer as the bytes arrive and calls again.
    ///
    /// 0 (the default) turns this off: payload is consumed as it arrives and a message split
    /// across calls is reassembled in an owned buffer, which suits a fixed-size input buffer.
    /// The I/O adapters set it to `max_frame_size`. The waiting frame is bounded by
    /// `max_frame_size` and `max_message_size` like the reassembly buffer it replaces.
    pub whole_frame_limit: u64,
    /// Send a ping after this long without receiving anything. Off by default.
    pub keepalive_interval: Option<Duration>,
    /// Fail the connection (reported as 1006) if a keepalive ping is not answered in this long.
    /// Used only with `keepalive_interval`. Off by default.
    pub pong_timeout: Option<Duration>,
    /// After our close frame is sent (or, for a client, after the close handshake while waiting
    /// for the server to end the transport), give up after this long. Off by default.
    pub close_timeout: Option<Duration>,
    /// Fail the opening handshake if it has not completed this long after the connection was
    /// created. Off by default (the I/O adapters turn it on).
    pub handshake_timeout: Option<Duration>,
    /// permessage-deflate compression (RFC 7692): a client offers it, a server accepts a
    /// client's offer, with these settings. `None` (the default) neither offers nor accepts it.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 17,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            max_pending_output: 128 << 20,
            delivery: Delivery::Messages,
            whole_frame_limit: 0,
            keepalive_interval: None,
            pong_timeout: None,
            close_timeout: None,
            handshake_timeout: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl Config {
    /// Sets [`max_frame_size`](Config::max_frame_size).
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }
    /// Sets [`max_message_size`](Config::max_message_size).
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }
    /// Sets [`max_fragments`](Config::max_fragments).
    pub fn max_fragments(mut self, frames: u32) -> Self {
        self.max_fragments = frames;
        self
    }
    /// Sets [`max_handshake_size`](Config::max_handshake_size).
    pub fn max_handshake_size(mut self, bytes: usize) -> Self {
        self.max_handshake_size = bytes;
        self
    }
    /// Sets [`max_headers`](Config::max_headers).
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }
    /// Sets [`max_pending_output`](Config::max_pending_output).
    pub fn max_pending_output(mut self, bytes: usize) -> Self {
        self.max_pending_output = bytes;
        self
    }
    /// Sets [`delivery`](Config::delivery).
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }
    /// Sets [`whole_frame_limit`](Config::whole_frame_limit).
    pub fn whole_frame_limit(mut self, bytes: u64) -> Self {
        self.whole_frame_limit = bytes;
        self
    }
    /// Sets [`keepalive_interval`](Config::keepalive_interval) and [`pong_timeout`](Config::pong_timeout).
    pub fn keepalive(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.keepalive_interval = Some(interval);
        self.pong_timeout = Some(pong_timeout);
        self
    }
    /// Sets [`close_timeout`](Config::close_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = Some(timeout);
        self
    }
    /// Sets [`handshake_timeout`](Config::handshake_timeout).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = Some(timeout);
        self
    }
    /// Turns on permessage-deflate with `deflate` settings (see [`Config::deflate`]).
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: crate::deflate::DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }
}
