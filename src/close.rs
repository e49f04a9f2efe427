//! Close codes and close frames (RFC 6455 sections 5.5.1 and 7.4).

use core::fmt;

use crate::event::ControlPayload;

/// A close status code (RFC 6455 section 7.4).
///
/// Any `u16` can be held, so that a received code can be reported; [`CloseCode::is_sendable`]
/// says whether it may appear on the wire.
///
/// # Examples
///
/// ```
/// use wsproto::CloseCode;
///
/// // 4000-4999 are the application's own, e.g. "kicked by a moderator".
/// let kicked = CloseCode(4001);
/// assert!(kicked.is_sendable());
/// // 1006 only reports a transport that ended without a close frame: it is never sent.
/// assert!(!CloseCode::ABNORMAL.is_sendable());
/// assert_eq!(CloseCode::from(1001), CloseCode::GOING_AWAY);
/// assert_eq!(u16::from(CloseCode::NORMAL), 1000);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer violated the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type that cannot be accepted (e.g. binary for a text-only endpoint).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reserved; reported when a close frame carried no code. Never sent.
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006: reserved; reported when the transport ended without a close frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a text message or close reason was not valid UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a policy was violated.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was larger than the receiver accepts.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client needed an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reserved; TLS handshake failure. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may be sent in a close frame, and so accepted in one.
    ///
    /// Valid: 1000-1003, 1007-1014 (IANA-registered), 3000-3999 (registered for libraries and
    /// frameworks) and 4000-4999 (private use). Everything else, including the reserved
    /// 1004-1006 and 1015, is a protocol error on receipt.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

/// The most bytes a close reason can have: 125 payload bytes minus the 2-byte code.
pub const MAX_CLOSE_REASON: usize = 123;

/// A close frame: a code and a UTF-8 reason of at most 123 bytes.
///
/// Small and `Copy`: it lives in a fixed buffer, never on the heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame {
    code: CloseCode,
    reason: ControlPayload,
}

impl CloseFrame {
    /// A close frame to send. `None` if the code may not be sent or the reason is longer than
    /// [`MAX_CLOSE_REASON`] bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
    ///
    /// let frame = CloseFrame::new(CloseCode::GOING_AWAY, "server restart").unwrap();
    /// assert_eq!((frame.code(), frame.reason()), (CloseCode::GOING_AWAY, "server restart"));
    /// // The whole frame must fit a 125-byte control payload, the 2-byte code included.
    /// let long = "x".repeat(MAX_CLOSE_REASON + 1);
    /// assert_eq!(CloseFrame::new(CloseCode::NORMAL, &long), None);
    /// assert_eq!(CloseFrame::new(CloseCode::ABNORMAL, ""), None);
    /// ```
    pub fn new(code: CloseCode, reason: &str) -> Option<CloseFrame> {
        if !code.is_sendable() || reason.len() > MAX_CLOSE_REASON {
            return None;
        }
        Some(CloseFrame {
            code,
            reason: ControlPayload::new(reason.as_bytes())?,
        })
    }

    /// What a peer's close frame without a body reports: code 1005 and no reason.
    pub(crate) const fn no_status() -> CloseFrame {
        CloseFrame {
            code: CloseCode::NO_STATUS_RECEIVED,
            reason: ControlPayload::EMPTY,
        }
    }

    /// What a transport that ended without a close frame reports: code 1006.
    pub const fn abnormal() -> CloseFrame {
        CloseFrame {
            code: CloseCode::ABNORMAL,
            reason: ControlPayload::EMPTY,
        }
    }

    /// The close code (1005 if the peer's frame carried none).
    pub fn code(&self) -> CloseCode {
        self.code
    }

    /// The close reason; empty if none was given.
    pub fn reason(&self) -> &str {
        // Reasons are validated as UTF-8 on receipt and built from `&str` on send.
        core::str::from_utf8(self.reason.as_bytes()).unwrap_or("")
    }

    /// Parses a close frame's payload (RFC 6455 section 5.5.1).
    pub(crate) fn parse(payload: &[u8]) -> Result<CloseFrame, crate::error::ProtocolError> {
        use crate::error::ProtocolError;
        match payload {
            [] => Ok(CloseFrame::no_status()),
            [_] => Err(ProtocolError::CloseFrameTooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                if core::str::from_utf8(reason).is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                let reason =
                    ControlPayload::new(reason).ok_or(ProtocolError::ControlFrameTooLong)?;
                Ok(CloseFrame { code, reason })
            }
        }
    }

    /// The payload of this frame on the wire; empty for 1005, which is never sent.
    pub(crate) fn encode(&self) -> ControlPayload {
        if self.code == CloseCode::NO_STATUS_RECEIVED {
            return ControlPayload::EMPTY;
        }
        let mut out = ControlPayload::EMPTY;
        out.extend(&self.code.0.to_be_bytes());
        out.extend(self.reason.as_bytes());
        out
    }
}

impl fmt::Debug for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseFrame")
            .field("code", &self.code.0)
            .field("reason", &self.reason())
            .finish()
    }
}
