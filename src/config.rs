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
/// | all four timers | off (the I/O adapters turn them on: see [`io`](crate::io)) |
/// | [`deflate`](Config::deflate) (feature `deflate`) | off |
///
/// # Examples
///
/// Start from the defaults and change only what the application needs:
///
/// ```
/// use core::time::Duration;
/// use wsproto::Config;
///
/// // A chat server: small messages, and dead peers noticed within 40 seconds.
/// let config = Config::default()
///     .max_message_size(64 << 10)
///     .keepalive(Duration::from_secs(30), Duration::from_secs(10));
/// assert_eq!(config.max_message_size, 64 << 10);
/// assert_eq!(config.pong_timeout, Some(Duration::from_secs(10)));
/// // Everything else keeps its default.
/// assert_eq!(config.max_frame_size, Config::default().max_frame_size);
/// ```
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
    /// Send a ping after this long without receiving anything. Off by default in the core; the
    /// I/O adapters ping after [`DEFAULT_KEEPALIVE_INTERVAL`](crate::io::DEFAULT_KEEPALIVE_INTERVAL)
    /// (20 s) unless this is set.
    ///
    /// The four timers read the same way: `None` is "unset" (off in the core, the adapter's
    /// default in an adapter), and `Some(Duration::ZERO)` is off everywhere.
    pub keepalive_interval: Option<Duration>,
    /// After a keepalive ping, fail the connection if nothing at all arrives for this long: no
    /// pong and no other byte (a peer busy sending a large frame is alive, even if its pong is
    /// queued behind it). The close frame sent says 1011 ("keepalive timeout"), and the error is
    /// [`Error::Timeout`](crate::Error::Timeout) with [`TimeoutKind::Pong`](crate::TimeoutKind).
    /// Used only with `keepalive_interval`; off by default in the core, the adapters'
    /// [`DEFAULT_PONG_TIMEOUT`](crate::io::DEFAULT_PONG_TIMEOUT) (20 s) unless set.
    pub pong_timeout: Option<Duration>,
    /// After our close frame is sent (or, for a client, after the close handshake while waiting
    /// for the server to end the transport), give up after this long. Off by default in the
    /// core; the adapters' [`DEFAULT_CLOSE_TIMEOUT`](crate::io::DEFAULT_CLOSE_TIMEOUT) (5 s)
    /// unless set.
    pub close_timeout: Option<Duration>,
    /// Fail the opening handshake if it has not completed this long after the connection was
    /// created. Off by default in the core; the adapters'
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::io::DEFAULT_HANDSHAKE_TIMEOUT) (10 s) unless set.
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

/// A timer setting as the core uses it: `None` and zero are both off.
pub(crate) fn enabled(timer: Option<Duration>) -> Option<Duration> {
    timer.filter(|d| !d.is_zero())
}

impl Config {
    /// Sets [`max_frame_size`](Config::max_frame_size).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{CloseCode, Config, Connection, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let config = Config::default().max_frame_size(4);
    /// let mut server = Connection::upgraded(Role::Server, config, Seed([7; 32]), now);
    /// # let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// # client.send_text("hello")?;
    /// # let mut frame = client.transmit().to_vec();
    /// // A 5-byte frame is refused on its 6-byte header alone: none of the payload is buffered.
    /// let err = server.recv(now, &mut frame[..6]).unwrap_err();
    /// assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }
    /// Sets [`max_message_size`](Config::max_message_size).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{CloseCode, Config, Connection, Error, Instant, ProtocolError, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let config = Config::default().max_message_size(4);
    /// let mut server = Connection::upgraded(Role::Server, config, Seed([7; 32]), now);
    /// # let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
    /// # client.send_text("hello")?;
    /// # let mut input = client.transmit().to_vec();
    /// // The client sent "hello": one byte too many.
    /// let err = server.recv(now, &mut input).unwrap_err();
    /// assert_eq!(err, Error::Protocol(ProtocolError::MessageTooLarge));
    /// // The peer is told why: the close frame with 1009 is already queued.
    /// assert_eq!(server.close_sent().map(|f| f.code()), Some(CloseCode::MESSAGE_TOO_BIG));
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{Config, Connection, Error, Instant, Role, Seed, TimeoutKind};
    ///
    /// let config = Config::default().keepalive(Duration::from_secs(30), Duration::from_secs(10));
    /// let mut conn = Connection::upgraded(Role::Server, config, Seed([7; 32]), Instant::ZERO);
    /// // After 30 s without input the connection pings by itself (0x89: a final ping frame)...
    /// conn.handle_timeout(Instant::from_millis(30_000))?;
    /// assert_eq!(conn.transmit()[0], 0x89);
    /// // ...and gives up on a peer that has not answered 10 s later.
    /// let timed_out = conn.handle_timeout(Instant::from_millis(40_000));
    /// assert_eq!(timed_out, Err(Error::Timeout(TimeoutKind::Pong)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn keepalive(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.keepalive_interval = Some(interval);
        self.pong_timeout = Some(pong_timeout);
        self
    }
    /// Turns keepalive pings off, in the core and in the adapters (which otherwise ping every
    /// 20 s): both [`keepalive_interval`](Config::keepalive_interval) and
    /// [`pong_timeout`](Config::pong_timeout) become `Some(Duration::ZERO)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{Config, Connection, Instant, Role, Seed};
    ///
    /// let config = Config::default().no_keepalive();
    /// let conn = Connection::upgraded(Role::Server, config, Seed([7; 32]), Instant::ZERO);
    /// // No timer at all: the connection never pings by itself.
    /// assert_eq!(conn.poll_timeout(), None);
    /// ```
    pub fn no_keepalive(mut self) -> Self {
        self.keepalive_interval = Some(Duration::ZERO);
        self.pong_timeout = Some(Duration::ZERO);
        self
    }
    /// Sets [`keepalive_interval`](Config::keepalive_interval) alone (`Duration::ZERO`: off).
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = Some(interval);
        self
    }
    /// Sets [`pong_timeout`](Config::pong_timeout) alone (`Duration::ZERO`: ping, but never
    /// fail the connection for a missing pong).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{Config, Connection, Instant, Role, Seed};
    ///
    /// let config = Config::default()
    ///     .keepalive_interval(Duration::from_secs(30))
    ///     .pong_timeout(Duration::ZERO);
    /// let mut conn = Connection::upgraded(Role::Server, config, Seed([7; 32]), Instant::ZERO);
    /// conn.handle_timeout(Instant::from_millis(30_000))?;
    /// assert_eq!(conn.transmit()[0], 0x89);
    /// // The ping is out, but a silent peer is never failed for it; the next ping is due.
    /// assert_eq!(conn.poll_timeout(), Some(Instant::from_millis(60_000)));
    /// # Ok::<(), wsproto::Error>(())
    /// ```
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = Some(timeout);
        self
    }
    /// Sets [`close_timeout`](Config::close_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{CloseCode, Config, Connection, Error, Instant, Role, Seed, TimeoutKind};
    ///
    /// let config = Config::default().close_timeout(Duration::from_secs(5));
    /// let mut conn = Connection::upgraded(Role::Server, config, Seed([7; 32]), Instant::ZERO);
    /// conn.close(Instant::ZERO, CloseCode::GOING_AWAY, "restarting")?;
    /// // A peer that never answers the close cannot hold the connection half-closed.
    /// assert_eq!(conn.poll_timeout(), Some(Instant::from_millis(5_000)));
    /// let timed_out = conn.handle_timeout(Instant::from_millis(5_000));
    /// assert_eq!(timed_out, Err(Error::Timeout(TimeoutKind::Close)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = Some(timeout);
        self
    }
    /// Sets [`handshake_timeout`](Config::handshake_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{Config, Connection, Error, Instant, TimeoutKind};
    ///
    /// let config = Config::default().handshake_timeout(Duration::from_secs(10));
    /// let mut server = Connection::server(config, Instant::ZERO);
    /// // A client that connects but never sends its request (slowloris) is dropped after 10 s.
    /// assert_eq!(server.poll_timeout(), Some(Instant::from_millis(10_000)));
    /// let timed_out = server.handle_timeout(Instant::from_millis(10_000));
    /// assert_eq!(timed_out, Err(Error::Timeout(TimeoutKind::Handshake)));
    /// assert!(server.wants_transport_close());
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = Some(timeout);
        self
    }
    /// Turns on permessage-deflate with `deflate` settings (see [`Config::deflate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::handshake::Accept;
    /// use wsproto::{ClientRequest, Config, Connection, DeflateConfig, Instant, Seed};
    ///
    /// let now = Instant::ZERO;
    /// // Both ends need it: the client offers compression, the server accepts the offer.
    /// let config = Config::default().deflate(DeflateConfig::default());
    /// let request = ClientRequest::new("example.com", "/");
    /// let mut client = Connection::client(config.clone(), request, Seed([7; 32]), now)?;
    /// let mut server = Connection::server(config, now);
    /// # let mut input = client.transmit().to_vec();
    /// # server.recv(now, &mut input)?;
    /// # server.accept(now, &Accept::new())?;
    /// # let mut input = server.transmit().to_vec();
    /// # client.recv(now, &mut input)?;
    /// assert!(client.deflate_params().is_some());
    /// assert_eq!(client.deflate_params(), server.deflate_params());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: crate::deflate::DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }
}
