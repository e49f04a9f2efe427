//! [`Message`]: what the adapters deliver and accept, as shared bytes.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::text::Utf8Bytes;

/// A message, as the adapters deliver and accept them.
///
/// Payloads are [`Bytes`] and [`Utf8Bytes`]: a received message that arrived whole shares the
/// read buffer (no copy), a reassembled one is moved out of the core, and a clone shares the
/// bytes, so one message can be sent to many connections. Text is validated once, by the core,
/// and never again. To send, anything that converts into a `Message` will do:
///
/// ```
/// use bytes::Bytes;
/// use wsproto::io::Message;
///
/// let messages: [Message; 4] = [
///     "a literal: no allocation".into(),
///     String::from("a String: its buffer is taken").into(),
///     vec![1u8, 2, 3].into(),
///     Bytes::from_static(b"shared bytes").into(),
/// ];
/// assert!(messages[0].is_text() && messages[2].is_binary());
/// assert_eq!(messages[1].as_text(), Some("a String: its buffer is taken"));
/// // Moving a message moves 40 bytes, whatever its payload.
/// assert_eq!(size_of::<Message>(), 40);
/// ```
///
/// A message is small (a control payload is a [`Bytes`] too, and the rare close frame is
/// boxed), because every message the adapters deliver is moved through a few layers of futures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping from the peer (already answered) or, to send, a ping (at most 125 bytes).
    Ping(Bytes),
    /// A pong from the peer or, to send, an unsolicited pong (at most 125 bytes).
    Pong(Bytes),
    /// The peer's close frame (already echoed) or, to send, our close.
    Close(Box<CloseFrame>),
}

impl Message {
    /// A text message, from a `String` (uncopied), a `&'static str` or [`Utf8Bytes`].
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message, from a `Vec<u8>` (uncopied), [`Bytes`] or a `&'static [u8]`.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// A close frame to send, or `None` if the code may not be sent or the reason is longer
    /// than [`MAX_CLOSE_REASON`](crate::MAX_CLOSE_REASON) bytes (see [`CloseFrame::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::CloseCode;
    /// use wsproto::io::Message;
    ///
    /// let bye = Message::close(CloseCode::NORMAL, "done").unwrap();
    /// assert!(bye.is_close());
    /// assert_eq!(bye.as_payload(), b"done");
    /// // A code that may not be sent is caught here, not when the send fails.
    /// assert_eq!(Message::close(CloseCode::ABNORMAL, ""), None);
    /// ```
    pub fn close(code: CloseCode, reason: &str) -> Option<Message> {
        CloseFrame::new(code, reason).map(Message::from)
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether this is a data message: text or binary.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::bytes::Bytes;
    /// use wsproto::io::Message;
    ///
    /// let received = [Message::text("a"), Message::Ping(Bytes::new()), Message::binary(vec![1])];
    /// // The adapter has already answered the ping: only data needs the application.
    /// assert_eq!(received.iter().filter(|m| m.is_data()).count(), 2);
    /// ```
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }

    /// Whether this is a ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// Whether this is a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// Whether this is a close frame.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// The payload as bytes, without a copy: a data message's, a ping's or pong's, or a close
    /// frame's reason.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::io::Message;
    ///
    /// let received = Message::text(r#"{"op":"join"}"#);
    /// // A relay forwards any payload as binary, sharing the bytes it received.
    /// let forwarded = Message::binary(received.into_data());
    /// assert_eq!(forwarded.as_payload(), br#"{"op":"join"}"#);
    /// ```
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(frame) => Bytes::copy_from_slice(frame.reason().as_bytes()),
        }
    }

    /// The text of a text message, without a copy; `None` for any other message.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Utf8Bytes;
    /// use wsproto::io::Message;
    ///
    /// let message = Message::text(String::from("hello"));
    /// // Kept past its message (in a chat history), still proven UTF-8 and still uncopied.
    /// let text: Utf8Bytes = message.into_text().unwrap();
    /// assert_eq!(text, "hello");
    /// assert_eq!(Message::binary(vec![0xff]).into_text(), None);
    /// ```
    pub fn into_text(self) -> Option<Utf8Bytes> {
        match self {
            Message::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The text of a text message.
    #[inline]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload bytes: a data message's, a ping's or pong's, or a close frame's reason.
    #[inline]
    pub fn as_payload(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(data) => data,
            Message::Ping(p) | Message::Pong(p) => p,
            Message::Close(frame) => frame.reason().as_bytes(),
        }
    }

    /// The payload length in bytes (see [`as_payload`](Message::as_payload)).
    #[inline]
    pub fn len(&self) -> usize {
        self.as_payload().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Message {
        Message::Text(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text.into())
    }
}

impl From<&'static str> for Message {
    fn from(text: &'static str) -> Message {
        Message::Text(text.into())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

impl From<&'static [u8]> for Message {
    fn from(data: &'static [u8]) -> Message {
        Message::Binary(Bytes::from_static(data))
    }
}

impl From<CloseFrame> for Message {
    fn from(frame: CloseFrame) -> Message {
        Message::Close(Box::new(frame))
    }
}
