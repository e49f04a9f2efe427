//! permessage-deflate (RFC 7692) on a connection: the negotiated state, compressed sends, and
//! inflation of received messages. The whole module exists only with the `deflate` feature.

use alloc::vec::Vec;

use super::send::data_opcode;
use super::{Connection, Role};
use crate::config::Delivery;
use crate::deflate::codec::{Compressor, Decompressor};
use crate::deflate::{DeflateConfig, DeflateParams};
use crate::error::{ProtocolError, SendError};
use crate::event::{Chunk, DataKind, Event, Message, Payload};
use crate::frame::{self, MAX_HEADER_LEN};
use crate::time::Instant;

/// permessage-deflate in force on a connection.
///
/// Both zlib streams are created at the first compressed message in their direction and
/// freed again once [`DeflateConfig::release_after`] passes without one (see
/// [`Connection::release_idle_deflate`]).
#[derive(Debug)]
pub(super) struct Deflate {
    pub(super) params: DeflateParams,
    /// Settings for our compressor (level, threshold, memory level, release delay).
    config: DeflateConfig,
    compressor: Compressor,
    decompressor: Decompressor,
    /// When to check whether the streams went idle; `None` while none is live.
    release_at: Option<Instant>,
    /// A compressed message went either way since `release_at` was armed.
    used: bool,
}

impl Deflate {
    fn new(role: Role, params: DeflateParams, config: DeflateConfig) -> Deflate {
        let (own_bits, own_reset, peer_bits, peer_reset) = match role {
            Role::Client => (
                params.client_max_window_bits(),
                params.client_no_context_takeover(),
                params.server_max_window_bits(),
                params.server_no_context_takeover(),
            ),
            Role::Server => (
                params.server_max_window_bits(),
                params.server_no_context_takeover(),
                params.client_max_window_bits(),
                params.client_no_context_takeover(),
            ),
        };
        Deflate {
            params,
            compressor: Compressor::new(
                config.level,
                own_bits,
                config.mem_level_clamped(),
                own_reset,
            ),
            decompressor: Decompressor::new(peer_bits, peer_reset),
            config,
            release_at: None,
            used: false,
        }
    }

    /// Notes a compressed message (or a piece of one) at about `now`: the release check is
    /// armed if it is not.
    fn touch(&mut self, now: Instant) {
        self.used = true;
        if self.release_at.is_none()
            && let Some(delay) = self.config.release_delay()
        {
            self.release_at = Some(now + delay);
        }
    }

    /// Our own agreed window's bits.
    fn own_bits(&self, role: Role) -> u8 {
        match role {
            Role::Client => self.params.client_max_window_bits(),
            Role::Server => self.params.server_max_window_bits(),
        }
    }

    /// Our compressor, for a message sent at about `now` (the last input's time: sends are not
    /// given the time, and a stale one only makes the first check come early).
    pub(super) fn compressor(&mut self, now: Instant) -> &mut Compressor {
        self.touch(now);
        &mut self.compressor
    }
}

/// Input bytes of a compressed message inflated per [`Event::Chunk`] in [`Delivery::Chunks`]
/// mode. DEFLATE expands at most about 1032:1, so a chunk holds at most about 4 MiB.
pub(super) const INFLATE_INPUT_PIECE: usize = 4096;

/// An upper bound on the compressed size of `len` bytes (stored blocks cost 5 bytes per block;
/// the smallest windows use 256-symbol blocks), used to check for room before compressing: once
/// the compressor has seen a message, it must be sent.
pub(super) fn deflate_bound(len: usize) -> usize {
    len.saturating_add(len >> 4).saturating_add(64)
}

impl Connection {
    /// Turns permessage-deflate on: RSV1 becomes legal on received frames.
    pub(super) fn enable_deflate(&mut self, params: DeflateParams) {
        let config = self.config.deflate.clone().unwrap_or_default();
        self.deflate = Some(Deflate::new(self.role, params, config));
        self.rules.rsv_allowed = frame::RSV1;
    }

    /// Inflates a piece of a compressed message's payload as it arrives; the inflated size is
    /// held to `max_message_size` during inflation, and text is validated after inflation.
    pub(super) fn on_compressed_data(
        &mut self,
        chunk: &[u8],
        message_done: bool,
    ) -> Result<Option<Event<'static>>, ProtocolError> {
        let limit = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
        let (Some(msg), Some(deflate)) = (self.reader.message.as_mut(), self.deflate.as_mut())
        else {
            return Err(ProtocolError::BadCompression);
        };
        deflate.touch(self.last_received);
        let inflater = &mut deflate.decompressor;
        let mut piece = Vec::new();
        let out = match self.config.delivery {
            Delivery::Messages => &mut msg.buffer,
            Delivery::Chunks => &mut piece,
        };
        let start = out.len();
        inflater.decompress(chunk, out, limit)?;
        if message_done {
            inflater.finish_message(out, limit)?;
        }
        if msg.kind == DataKind::Text {
            msg.utf8
                .feed(&out[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if message_done && !msg.utf8.is_complete() {
                return Err(ProtocolError::InvalidUtf8);
            }
        }
        let kind = msg.kind;
        let event = match self.config.delivery {
            Delivery::Messages => {
                if !message_done {
                    return Ok(None);
                }
                Event::Message(Message {
                    kind,
                    payload: Payload::Owned(core::mem::take(&mut msg.buffer)),
                })
            }
            Delivery::Chunks => {
                if piece.is_empty() && !message_done {
                    return Ok(None);
                }
                let first = !msg.started;
                msg.started = true;
                Event::Chunk(Chunk {
                    kind,
                    data: Payload::Owned(piece),
                    first,
                    last: message_done,
                })
            }
        };
        if message_done {
            self.reader.message = None;
        }
        Ok(Some(event))
    }

    /// Whether a whole message of `len` bytes is sent compressed.
    pub(super) fn should_compress(&self, len: usize) -> bool {
        self.deflate
            .as_ref()
            .is_some_and(|d| len >= d.config.compression_threshold)
    }

    /// Compresses and queues a whole message, RSV1 set. Room is checked first, against a bound
    /// on the compressed size: once compressed, the message is in the shared window and must be
    /// sent.
    pub(super) fn send_compressed(&mut self, kind: DataKind, data: &[u8]) -> Result<(), SendError> {
        self.check_room(MAX_HEADER_LEN + deflate_bound(data.len()), false)?;
        let now = self.last_received;
        let Some(deflate) = self.deflate.as_mut() else {
            return self.queue_frame(data_opcode(kind), true, data, false);
        };
        let mut payload = Vec::new();
        deflate.compressor(now).compress_message(data, &mut payload);
        self.queue_frame_rsv(data_opcode(kind), true, frame::RSV1, &payload);
        Ok(())
    }

    /// Whether a message compressed once in a window of `bits` may go on this connection: our
    /// agreed window must be at least that large.
    pub(super) fn takes_shared_deflate(&self, bits: u8) -> bool {
        self.deflate
            .as_ref()
            .is_some_and(|d| d.own_bits(self.role) >= bits)
    }

    /// Queues a message compressed once for many connections, RSV1 set, then forgets our
    /// compressor's window: the peer's window now ends with this message, which ours never saw,
    /// so our next message must not refer back past it. (The stream is freed: it is rebuilt
    /// empty for our next message of our own.)
    pub(super) fn send_shared_deflate(
        &mut self,
        kind: DataKind,
        compressed: &bytes::Bytes,
    ) -> Result<(), SendError> {
        self.check_room(MAX_HEADER_LEN + compressed.len(), false)?;
        let Some(deflate) = self.deflate.as_mut() else {
            return Err(SendError::NotOpen);
        };
        deflate.compressor.forget();
        self.queue_frame_rsv(data_opcode(kind), true, frame::RSV1, compressed);
        Ok(())
    }

    /// When [`release_idle_deflate`](Connection::release_idle_deflate) has work: for
    /// [`poll_timeout`](Connection::poll_timeout).
    pub(super) fn deflate_deadline(&self) -> Option<Instant> {
        self.deflate.as_ref()?.release_at
    }

    /// Frees the zlib streams once a whole period of [`DeflateConfig::release_after`] passed
    /// without a compressed message: called by [`handle_timeout`](Connection::handle_timeout).
    /// A stream in the middle of a message is kept, and checked again a period later.
    pub(super) fn release_idle_deflate(&mut self, now: Instant) {
        let Some(deflate) = self.deflate.as_mut() else {
            return;
        };
        let Some(at) = deflate.release_at else {
            return;
        };
        if now < at {
            return;
        }
        let delay = deflate.config.release_delay();
        if core::mem::take(&mut deflate.used) {
            // In use during the last period: look again a period from now.
            deflate.release_at = delay.map(|d| now + d);
            return;
        }
        let sent = deflate.compressor.release();
        let received = deflate.decompressor.release();
        deflate.release_at = if sent && received {
            None
        } else {
            delay.map(|d| now + d)
        };
    }
}
