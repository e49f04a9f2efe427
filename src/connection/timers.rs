//! Timers: `handle_timeout`, the handshake, keepalive, pong and close deadlines, and
//! keepalive pings.

use super::{Connection, Phase, TIMERS, Timer};
use crate::close::{CloseCode, CloseFrame};
use crate::config::enabled;
use crate::error::{Error, TimeoutKind};
use crate::event::ControlPayload;
use crate::frame::OpCode;
use crate::time::Instant;

/// The reason in the close frame sent when a keepalive ping goes unanswered.
pub(crate) const PONG_TIMEOUT_REASON: &str = "keepalive ping timeout";

impl Connection {
    // ---- inputs ----

    /// Acts on expired timers. Calling it early or more than once is harmless.
    ///
    /// # Errors
    /// [`Error::Timeout`] when the opening handshake, a keepalive pong or the close handshake
    /// timed out; the transport should then be closed (see
    /// [`wants_transport_close`](Connection::wants_transport_close)).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsproto::{CloseCode, Config, Connection, Instant, Role, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let config = Config::default().close_timeout(Duration::from_secs(5));
    /// let mut client = Connection::upgraded(Role::Client, config, Seed([7; 32]), now);
    /// # let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), now);
    /// client.close(now, CloseCode::NORMAL, "bye")?;
    /// # let mut input = client.transmit().to_vec();
    /// # client.advance_transmit(input.len());
    /// # server.recv(now, &mut input)?;
    /// # let mut input = server.transmit().to_vec();
    /// # client.recv(now, &mut input)?;
    /// // The server echoed the close but keeps the TCP connection open. Waking early is harmless.
    /// client.handle_timeout(Instant::from_millis(1_000))?;
    /// assert!(!client.wants_transport_close());
    /// // At the close timeout the client stops waiting and closes it itself: not an error.
    /// client.handle_timeout(Instant::from_millis(5_000))?;
    /// assert!(client.wants_transport_close());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        #[cfg(feature = "deflate")]
        self.release_idle_deflate(now);
        for timer in TIMERS {
            let Some(deadline) = self.deadline(timer) else {
                continue;
            };
            if now < deadline {
                continue;
            }
            self.timers[timer as usize] = None;
            match timer {
                Timer::Handshake => return self.time_out(TimeoutKind::Handshake),
                Timer::Pong => {
                    // RFC 6455 7.1.7: fail the connection, telling the peer why if it is
                    // still there to read it.
                    let frame = CloseFrame::new(CloseCode::INTERNAL_ERROR, PONG_TIMEOUT_REASON);
                    if let (Some(frame), None) = (frame, self.close_sent) {
                        self.queue_close(frame);
                    }
                    return self.time_out(TimeoutKind::Pong);
                }
                Timer::Close => {
                    if self.phase == Phase::CloseDone {
                        // Client: the close handshake is done; the server never closed the
                        // transport, so we do (RFC 6455 7.1.1).
                        self.transport_close = true;
                        return Ok(());
                    }
                    return self.time_out(TimeoutKind::Close);
                }
                Timer::Keepalive => self.send_keepalive(now),
            }
        }
        Ok(())
    }

    // ---- internals: timers ----

    fn time_out(&mut self, kind: TimeoutKind) -> Result<(), Error> {
        self.phase = Phase::Failed;
        self.transport_close = true;
        self.timers = [None; 4];
        Err(Error::Timeout(kind))
    }

    pub(super) fn arm(&mut self, timer: Timer, at: Option<Instant>) {
        self.timers[timer as usize] = at;
    }

    /// A timer's deadline. The keepalive and pong timers store when they were armed; their
    /// deadlines move with every byte received, without a store per read.
    pub(super) fn deadline(&self, timer: Timer) -> Option<Instant> {
        let at = self.timers[timer as usize]?;
        match timer {
            Timer::Keepalive => {
                if self.keepalive_payload.is_some() {
                    // A ping is outstanding: the pong timer is in charge.
                    return None;
                }
                let interval = enabled(self.config.keepalive_interval)?;
                Some(at.max(self.last_received) + interval)
            }
            Timer::Pong => {
                let timeout = enabled(self.config.pong_timeout)?;
                Some(at.max(self.last_received) + timeout)
            }
            _ => Some(at),
        }
    }

    fn send_keepalive(&mut self, now: Instant) {
        if self.phase != Phase::Open {
            return;
        }
        self.keepalive_count = self.keepalive_count.wrapping_add(1);
        let payload = ControlPayload::new(&self.keepalive_count.to_be_bytes())
            .unwrap_or(ControlPayload::EMPTY);
        self.queue_frame_unchecked(OpCode::Ping, true, payload.as_bytes());
        self.arm(Timer::Keepalive, Some(now));
        if enabled(self.config.pong_timeout).is_some() {
            self.keepalive_payload = Some(payload);
            self.arm(Timer::Pong, Some(now));
        }
    }
}
