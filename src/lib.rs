#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! wsproto: a sans-IO WebSocket core.

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod close;
mod config;
mod entropy;
mod error;
mod event;
pub mod handshake;
mod time;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::{Config, Delivery};
pub use entropy::Seed;
pub use error::{Error, HandshakeError, ProtocolError, SendError, TimeoutKind};
pub use event::{Chunk, ControlPayload, DataKind, Event, MAX_CONTROL_PAYLOAD, Message, Payload};
pub use time::Instant;
