//! The opening handshake: the server's answers (`accept`, `reject`) and reading the head of
//! the client's request or the server's response.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Connection, Phase, Recv, Timer};
#[cfg(feature = "deflate")]
use crate::deflate::negotiate;
use crate::error::{Error, HandshakeError, SendError};
use crate::event::Event;
use crate::handshake::{self, Accept};
use crate::time::Instant;

impl Connection {
    // ---- handshake answers (server) ----

    /// Accepts the pending request: queues the 101 response and opens the connection.
    ///
    /// # Errors
    /// [`SendError::NoRequestPending`] if no request awaits an answer;
    /// [`SendError::InvalidHandshakeAnswer`] for a subprotocol the client did not offer or an
    /// invalid header. Nothing is queued on error.
    pub fn accept(&mut self, now: Instant, accept: &Accept) -> Result<(), SendError> {
        if self.phase != Phase::AwaitingAccept {
            return Err(SendError::NoRequestPending);
        }
        let Some(request) = self.request.as_ref() else {
            return Err(SendError::NoRequestPending);
        };
        #[cfg(feature = "deflate")]
        let negotiated = self
            .config
            .deflate
            .as_ref()
            .and_then(|cfg| negotiate::server_negotiate(cfg, request.extensions()));
        #[cfg(feature = "deflate")]
        let extensions = negotiated.as_ref().map(|(_, response)| response.as_str());
        #[cfg(not(feature = "deflate"))]
        let extensions = None;
        let mut head = Vec::with_capacity(192);
        handshake::write_accept(request, accept, extensions, &mut head)?;
        self.output.push_segment(head);
        self.subprotocol = accept.chosen_subprotocol().map(String::from);
        self.open(now);
        #[cfg(feature = "deflate")]
        if let Some((params, _)) = negotiated {
            self.enable_deflate(params);
        }
        Ok(())
    }

    /// Rejects the pending request with an HTTP response (e.g. 401 or 403) and ends the
    /// connection once it is written.
    ///
    /// # Errors
    /// [`SendError::NoRequestPending`] if no request awaits an answer;
    /// [`SendError::InvalidHandshakeAnswer`] for a status outside 200-599 or an invalid header.
    pub fn reject(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), SendError> {
        if self.phase != Phase::AwaitingAccept {
            return Err(SendError::NoRequestPending);
        }
        let mut head = Vec::new();
        handshake::write_reject(status, headers, body, &mut head)?;
        self.queue_bytes(&head);
        self.phase = Phase::Failed;
        self.timers = [None; 4];
        Ok(())
    }

    // ---- internals: handshake ----

    pub(super) fn recv_head<'a>(
        &mut self,
        now: Instant,
        input: &'a mut [u8],
    ) -> Result<Recv<'a>, Error> {
        let searched = self.head.len();
        if searched == 0 {
            // The common case: the whole head in one read. Parse it where it is, uncopied.
            let window = input.get(..self.config.max_handshake_size).unwrap_or(input);
            if let Some(end) = handshake::find_head_end(window, 0) {
                self.head_end_in_input = end;
                let event = self.on_head(now, window.get(..end).unwrap_or(window))?;
                return Ok(Recv {
                    consumed: end,
                    event: Some(event),
                });
            }
        }
        let room = self.config.max_handshake_size.saturating_sub(searched);
        let take = input.len().min(room);
        self.head.extend_from_slice(&input[..take]);
        let Some(end) = handshake::find_head_end(&self.head, searched) else {
            if take < input.len() || self.head.len() >= self.config.max_handshake_size {
                return Err(HandshakeError::HeadersTooLarge.into());
            }
            return Ok(Recv {
                consumed: take,
                event: None,
            });
        };
        // Bytes after the head were only copied, not consumed: they are frames for later.
        let consumed = end - searched;
        self.head_end_in_input = consumed;
        let head = core::mem::take(&mut self.head);
        let event = self.on_head(now, head.get(..end).unwrap_or(&head))?;
        Ok(Recv {
            consumed,
            event: Some(event),
        })
    }

    /// A complete opening-handshake head arrived: parse and check it, and move on.
    fn on_head(&mut self, now: Instant, head: &[u8]) -> Result<Event<'static>, Error> {
        let event = match self.phase {
            Phase::ServerHandshake => {
                let request = handshake::parse_request(head, self.config.max_headers)?;
                handshake::validate_request(&request)?;
                self.request = Some(request.clone());
                self.phase = Phase::AwaitingAccept;
                Event::Request(request)
            }
            _ => {
                let response = handshake::parse_response(head, self.config.max_headers)?;
                let offered = self
                    .client_request
                    .as_ref()
                    .map(|r| r.subprotocols())
                    .unwrap_or(&[]);
                #[cfg(feature = "deflate")]
                let offered_deflate = self.config.deflate.is_some();
                #[cfg(not(feature = "deflate"))]
                let offered_deflate = false;
                handshake::validate_response(
                    &response,
                    &self.client_key,
                    offered,
                    offered_deflate,
                )?;
                #[cfg(feature = "deflate")]
                if let Some(cfg) = &self.config.deflate
                    && let Some(params) =
                        negotiate::client_check_response(cfg, response.extensions())?
                {
                    self.enable_deflate(params);
                }
                self.subprotocol = response.subprotocol().map(String::from);
                self.client_request = None;
                self.open(now);
                Event::Connected(response)
            }
        };
        Ok(event)
    }

    pub(super) fn open(&mut self, now: Instant) {
        self.phase = Phase::Open;
        self.head = Vec::new();
        self.timers[Timer::Handshake as usize] = None;
        self.last_received = now;
        self.arm(
            Timer::Keepalive,
            crate::config::enabled(self.config.keepalive_interval).map(|_| now),
        );
    }

    pub(super) fn arm_handshake_timer(&mut self, now: Instant) {
        self.arm(
            Timer::Handshake,
            crate::config::enabled(self.config.handshake_timeout).map(|t| now + t),
        );
    }
}
