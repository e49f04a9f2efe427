//! A server's answer to an opening request: [`Answer`], [`Reject`], and how the adapters hand it
//! to the core so that the client always gets an HTTP response.

use alloc::string::String;
use alloc::vec::Vec;

use super::WsError;
use crate::connection::Connection;
use crate::error::SendError;
use crate::handshake::Accept;
use crate::time::Instant;

/// A server's answer to an opening request: accept it, or reject it with an HTTP response.
///
/// ```
/// use wsproto::io::{Answer, Reject};
/// use wsproto::handshake::Accept;
///
/// let answers = [
///     Answer::accept(),                                   // 101, no subprotocol
///     Accept::new().subprotocol("chat").into(),           // 101, speaking "chat"
///     Answer::unauthorized("Bearer"),                     // 401 with WWW-Authenticate
///     Answer::forbidden(),                                // 403
///     Reject::new(429).header("Retry-After", "5").body("slow down").into(),
/// ];
/// assert_eq!(answers[2].status(), 401);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Answer {
    /// Accept, choosing a subprotocol and adding headers.
    Accept(Accept),
    /// Reject with an HTTP response.
    Reject(Reject),
}

impl Answer {
    /// Accepts with no subprotocol and no extra headers.
    pub fn accept() -> Answer {
        Answer::Accept(Accept::new())
    }

    /// Rejects with `status` (200-599) and an empty body.
    pub fn reject(status: u16) -> Answer {
        Answer::Reject(Reject::new(status))
    }

    /// Rejects with `401 Unauthorized` and the `WWW-Authenticate` challenge RFC 9110 requires
    /// with it, e.g. `"Bearer"` or `"Basic realm=\"chat\""`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::io::Answer;
    ///
    /// let answer = Answer::unauthorized("Bearer");
    /// assert_eq!(answer.status(), 401);
    /// // The challenge tells the client which credentials to send next time.
    /// let Answer::Reject(reject) = answer else { unreachable!() };
    /// assert_eq!(reject.headers(), [("WWW-Authenticate".to_string(), "Bearer".to_string())]);
    /// ```
    pub fn unauthorized(challenge: &str) -> Answer {
        Answer::Reject(Reject::unauthorized(challenge))
    }

    /// Rejects with `403 Forbidden`: the client is known but may not connect.
    pub fn forbidden() -> Answer {
        Answer::Reject(Reject::forbidden())
    }

    /// The HTTP status this answer sends: 101 to accept.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Accept(_) => 101,
            Answer::Reject(reject) => reject.status,
        }
    }
}

impl From<Accept> for Answer {
    fn from(accept: Accept) -> Answer {
        Answer::Accept(accept)
    }
}

impl From<Reject> for Answer {
    fn from(reject: Reject) -> Answer {
        Answer::Reject(reject)
    }
}

/// An HTTP response that refuses an opening request: a status, headers and a body.
/// `Content-Length` and `Connection: close` are written by the core.
///
/// # Examples
///
/// ```
/// use wsproto::Config;
/// use wsproto::io::WsError;
/// use wsproto::io::blocking::{Reject, WebSocket};
/// # use std::io::{self, Read, Write};
/// # #[derive(Debug)] struct Memory { input: io::Cursor<Vec<u8>>, output: Vec<u8> }
/// # impl Memory { fn new(input: &[u8]) -> Memory { Memory { input: io::Cursor::new(input.to_vec()), output: Vec::new() } } }
/// # impl Read for Memory { fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> { self.input.read(buf) } }
/// # impl Write for Memory {
/// #     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.output.write(buf) }
/// #     fn flush(&mut self) -> io::Result<()> { Ok(()) }
/// # }
/// # impl wsproto::io::blocking::Transport for Memory {}
/// # let request = wsproto::ClientRequest::new("example.com", "/");
/// # let client = wsproto::Connection::client(wsproto::Config::default(), request, wsproto::Seed([7; 32]), wsproto::Instant::ZERO)?;
/// # let request_bytes = client.transmit().to_vec();
///
/// let mut socket = Memory::new(&request_bytes);
/// // Too many connections from this client: say when to come back.
/// let reject = Reject::new(429).header("Retry-After", "5").body("slow down");
/// let rejected = WebSocket::accept_with(&mut socket, Config::default(), |_| reject);
/// assert!(matches!(rejected, Err(WsError::Rejected { status: 429 })));
/// let response = String::from_utf8_lossy(&socket.output);
/// assert!(response.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
/// assert!(response.contains("\r\nRetry-After: 5\r\n"));
/// assert!(response.ends_with("\r\n\r\nslow down"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reject {
    /// A rejection with `status` (200-599; anything else is answered with a 500 and reported
    /// as [`WsError::InvalidAnswer`]) and no body.
    pub fn new(status: u16) -> Reject {
        Reject {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `401 Unauthorized` with a `WWW-Authenticate: {challenge}` header.
    pub fn unauthorized(challenge: &str) -> Reject {
        Reject::new(401).header("WWW-Authenticate", challenge)
    }

    /// `403 Forbidden`.
    pub fn forbidden() -> Reject {
        Reject::new(403)
    }

    /// `404 Not Found`: no WebSocket endpoint at this path.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Config;
    /// use wsproto::io::blocking::{Answer, Reject, WebSocket};
    /// # use std::io::{self, Read, Write};
    /// # #[derive(Debug)] struct Memory { input: io::Cursor<Vec<u8>>, output: Vec<u8> }
    /// # impl Memory { fn new(input: &[u8]) -> Memory { Memory { input: io::Cursor::new(input.to_vec()), output: Vec::new() } } }
    /// # impl Read for Memory { fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> { self.input.read(buf) } }
    /// # impl Write for Memory {
    /// #     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.output.write(buf) }
    /// #     fn flush(&mut self) -> io::Result<()> { Ok(()) }
    /// # }
    /// # impl wsproto::io::blocking::Transport for Memory {}
    /// # let request = wsproto::ClientRequest::new("example.com", "/admin");
    /// # let client = wsproto::Connection::client(wsproto::Config::default(), request, wsproto::Seed([7; 32]), wsproto::Instant::ZERO)?;
    /// # let request_bytes = client.transmit().to_vec();
    ///
    /// let mut socket = Memory::new(&request_bytes);
    /// let route = |request: &wsproto::Request| match request.path() {
    ///     "/chat" => Answer::accept(),
    ///     _ => Reject::not_found().into(),
    /// };
    /// let err = WebSocket::accept_with(&mut socket, Config::default(), route).unwrap_err();
    /// assert_eq!(err.http_status(), Some(404));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn not_found() -> Reject {
        Reject::new(404)
    }

    /// Adds a response header (not `Content-Length`, `Transfer-Encoding` or `Connection`,
    /// which the core writes).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Reject {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reject {
        self.body = body.into();
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The extra headers, in the order added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

/// Hands the application's answer to the core. `Ok` if the connection is now open; otherwise
/// an HTTP response is queued (the rejection, or a 500 for an answer the core refused) and the
/// error is what to report once it is written.
pub(crate) fn apply_answer(
    conn: &mut Connection,
    now: Instant,
    answer: Answer,
) -> Result<(), WsError> {
    let refused = match answer {
        Answer::Accept(accept) => {
            let unoffered = accept.chosen_subprotocol().filter(|chosen| {
                conn.request()
                    .is_some_and(|req| !req.subprotocols().any(|p| p == *chosen))
            });
            if let Some(chosen) = unoffered {
                WsError::UnofferedSubprotocol(chosen.into())
            } else {
                match conn.accept(now, &accept) {
                    Ok(()) => return Ok(()),
                    Err(e) => WsError::InvalidAnswer(e),
                }
            }
        }
        Answer::Reject(reject) => {
            let headers: Vec<(&str, &str)> = reject
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            match conn.reject(reject.status, &headers, &reject.body) {
                Ok(()) => {
                    return Err(WsError::Rejected {
                        status: reject.status,
                    });
                }
                Err(e) => WsError::InvalidAnswer(e),
            }
        }
    };
    // The application's mistake must not become a silent drop: the client gets a 500.
    if !matches!(refused, WsError::InvalidAnswer(SendError::NoRequestPending)) {
        let _ = conn.reject(500, &[], b"");
    }
    Err(refused)
}
