#![no_std]
// `unsafe` is allowed in three modules only: the deflate backend (`deflate::backend`), the
// run-time AVX2/AVX-512 choice for masking (`mask::wide`: the calls after their CPU checks and
// the length update of the one-pass masked copy), and `text` (the `from_utf8_unchecked` of
// `Utf8Bytes::as_str`, which saves validating text twice).
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
//! # wsproto: a sans-IO WebSocket core
//!
//! `wsproto` implements the WebSocket protocol (RFC 6455) as a state machine that does no I/O:
//! bytes, time and entropy go in; events and bytes to send come out. It reads no socket, no
//! clock and no random source, so the same core runs under tokio, async-std or smol, in a
//! blocking thread, in a game loop, on a microcontroller (`#![no_std]` + `alloc`), or under a
//! fuzzer, with identical behaviour.
//!
//! The core keeps the RFC's obligations itself: it answers pings, echoes close frames, fails
//! the connection with the right close code (queuing the close frame before it reports the
//! error), discards input after the close, and says when the transport should be closed. The
//! application is told what happened, not asked to do protocol work.
//!
//! ## The run loop
//!
//! Every integration is the same loop:
//!
//! 1. Create a [`Connection`]: [`Connection::client`] (with a [`ClientRequest`] and a [`Seed`]),
//!    [`Connection::server`], or [`Connection::upgraded`] if the HTTP upgrade happened elsewhere.
//! 2. Write out [`Connection::transmit`] and report what was written with
//!    [`Connection::advance_transmit`] (or write [`Connection::transmit_slices`] vectored).
//! 3. Feed received bytes to [`Connection::recv`] until it consumes nothing and reports no
//!    event. Data events lend the caller's buffer, so the caller may send while holding one.
//!    On end of stream call [`Connection::recv_eof`].
//! 4. Handle each [`Event`]; send with [`Connection::send_text`], [`Connection::send_binary`],
//!    [`Connection::send_fragment`], [`Connection::ping`] or [`Connection::close`]. A server
//!    answers [`Event::Request`] with [`Connection::accept`] or [`Connection::reject`].
//! 5. Wait for readable input, writability, or the deadline [`Connection::poll_timeout`], and
//!    call [`Connection::handle_timeout`] when it passes.
//! 6. Close the transport when [`Connection::wants_transport_close`] says so.
//!
//! Here a client and a server talk through two in-memory pipes:
//!
//! ```
//! use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
//! use wsproto::handshake::Accept;
//!
//! let now = Instant::ZERO;
//! // 1. One connection per side. Use `Seed::from_os()` for real connections.
//! let mut client = Connection::client(Config::default(), ClientRequest::new("example.com", "/chat"), Seed([7; 32]), now)?;
//! let mut server = Connection::server(Config::default(), now);
//!
//! let mut texts = Vec::new();
//! for _round in 0..10 {
//!     // 2. Move each side's output to the other's input (a socket write, in real life).
//!     let mut to_server = client.transmit_slices().flatten().copied().collect::<Vec<u8>>();
//!     client.advance_transmit(to_server.len());
//!     let mut to_client = server.transmit_slices().flatten().copied().collect::<Vec<u8>>();
//!     server.advance_transmit(to_client.len());
//!
//!     // 3. Feed input until nothing more happens; 4. handle the events.
//!     let mut at = 0;
//!     while at < to_server.len() {
//!         let recv = server.recv(now, &mut to_server[at..])?;
//!         at += recv.consumed;
//!         match recv.event {
//!             Some(Event::Request(req)) => {
//!                 assert_eq!(req.path(), "/chat");
//!                 server.accept(now, &Accept::new())?;
//!             }
//!             // Echo: the message borrows `to_server`, not `server`.
//!             Some(Event::Message(msg)) => server.send_text(msg.as_text().unwrap_or_default())?,
//!             Some(_) => {}
//!             None if recv.consumed == 0 => break,
//!             None => {}
//!         }
//!     }
//!     let mut at = 0;
//!     while at < to_client.len() {
//!         let recv = client.recv(now, &mut to_client[at..])?;
//!         at += recv.consumed;
//!         match recv.event {
//!             Some(Event::Connected(_)) => client.send_text("hello")?,
//!             Some(Event::Message(msg)) => {
//!                 texts.push(msg.as_text().unwrap_or_default().to_owned());
//!                 client.close(now, wsproto::CloseCode::NORMAL, "done")?;
//!             }
//!             Some(_) => {}
//!             None if recv.consumed == 0 => break,
//!             None => {}
//!         }
//!     }
//!     // 5. No timers are configured, so there is no deadline to wait for.
//!     assert_eq!(server.poll_timeout(), None);
//!     // 6. The server closes the transport first once the close handshake is done.
//!     if server.wants_transport_close() {
//!         client.recv_eof(now)?;
//!         break;
//!     }
//! }
//! assert_eq!(texts, ["hello"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Shared payloads and broadcast
//!
//! Besides the borrowing [`Connection::send_text`] and [`Connection::send_binary`], a payload
//! held in [`bytes::Bytes`] (or in [`Utf8Bytes`], text that carries its proof of UTF-8) can be
//! sent without a copy: [`Connection::send_binary_shared`] and
//! [`Connection::send_text_shared`] queue a server's large payload by reference, so it goes out
//! as the frame header plus those very bytes. A [`PreparedFrame`] is a message framed once for
//! [`Connection::send_prepared`] on many connections (a chat room's fan-out). The adapters in
//! `io` (feature `std`) deliver and take `io::Message`s built on the same types: a message that
//! arrived whole is split off the read buffer, uncopied.
//!
//! ## Errors
//!
//! Peer violations ([`ProtocolError`], each with its close code), handshake failures
//! ([`HandshakeError`], each with its HTTP status), timeouts, and transport end are reported by
//! the input calls as [`Error`]; local misuse of a send command is a [`SendError`] and changes
//! nothing.
//!
//! ## Features
//!
//! - `std` (default): [`Seed::from_os`] and `std::error::Error` impls. Without it the crate is
//!   `#![no_std]` + `alloc`.
//! - `deflate` (default): permessage-deflate compression (RFC 7692), see [`deflate`]. It keeps
//!   the crate `#![no_std]` + `alloc`.
//! - `fuzzing`: the `fuzzing` module that the cargo-fuzz targets call.
//! - `futures-io`: the async adapter `io::futures` over any `futures-io` stream, for any
//!   executor (`async-std` enables it too; the crate does not depend on async-std).
//! - `async-io`: its `AsyncIoTimer` and `connect`, on the reactor that smol and async-std use.
//! - `tokio`: the async adapter `io::tokio` (implies `std`): `WebSocketStream` over any
//!   `AsyncRead + AsyncWrite` stream, with `Stream`/`Sink` and `split`.

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "axum")]
pub mod axum;
mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
mod entropy;
mod error;
mod event;
pub mod frame;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod handshake;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "std")]
pub mod io;
pub mod mask;
mod output;
mod prepared;
mod text;
mod time;
pub mod utf8;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::{Config, Delivery};
pub use connection::{Connection, MAX_QUEUED_PONGS, Recv, Role, State};
#[cfg(feature = "deflate")]
pub use deflate::{DeflateConfig, DeflateParams};
pub use entropy::Seed;
pub use error::{Error, HandshakeError, ProtocolError, SendError, TimeoutKind};
pub use event::{Chunk, ControlPayload, DataKind, Event, MAX_CONTROL_PAYLOAD, Message, Payload};
pub use handshake::{ClientRequest, Request, Response};
pub use prepared::PreparedFrame;
pub use text::{NotUtf8, Utf8Bytes};
pub use time::Instant;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) carries payloads in [`Utf8Bytes`],
/// [`PreparedFrame`] and the adapters' messages.
pub use bytes;

/// Moving from tokio-tungstenite: a table, call by call, and the same program in both.
#[cfg(feature = "tokio")]
pub mod migrating_from_tokio_tungstenite {
    #![doc = include_str!("../docs/migrating-from-tokio-tungstenite.md")]
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
