//! WebSocket over custom transports with the blocking adapter: a Unix domain socket, or
//! stdin/stdout.
//!
//! - `cargo run --example unix_socket -- --listen PATH`: an echo server on a Unix socket.
//! - `cargo run --example unix_socket -- --connect PATH`: a client that sends each line of
//!   stdin as a text message and prints the echo.
//! - `cargo run --example unix_socket -- --stdio`: serves one echo connection over stdin and
//!   stdout, for inetd-style use, e.g.
//!   `socat UNIX-LISTEN:/tmp/ws.sock,fork EXEC:'target/debug/examples/unix_socket --stdio'`
//!   and then `--connect /tmp/ws.sock`.
//!
//! `UnixStream` implements the adapter's `Transport` already; stdin/stdout needs the few lines
//! of [`Duplex`].

use std::io::{self, BufRead, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use wsproto::io::blocking::{Transport, WebSocket};
use wsproto::io::{Message, WsError};
use wsproto::{ClientRequest, CloseCode, Config};

/// A transport made of a reader and a writer, e.g. stdin and stdout. It has no read timeout,
/// so the connection's timers are off; the default `Transport` methods say exactly that.
pub struct Duplex<R, W> {
    /// Where bytes come from.
    pub reader: R,
    /// Where bytes go.
    pub writer: W,
}

impl<R: Read, W: Write> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R: Read, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl<R: Read, W: Write> Transport for Duplex<R, W> {}

/// Accepts the opening handshake on `transport` and echoes text and binary messages until the
/// connection ends. Returns how many messages it echoed.
pub fn serve<T: Transport>(transport: T) -> Result<usize, WsError> {
    let mut ws = WebSocket::accept(transport, Config::default())?;
    let mut echoed = 0;
    // `Ok(None)` is the clean end (close handshake done); `?` passes on every failure.
    while let Some(message) = ws.recv()? {
        if message.is_text() || message.is_binary() {
            ws.send(message)?;
            echoed += 1;
        }
    }
    Ok(echoed)
}

/// Serves connections on a Unix socket at `path`, one thread each, up to `limit` of them.
pub fn listen(path: &Path, limit: Option<usize>) -> Result<(), WsError> {
    // A socket file left by an earlier run would make bind fail.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    let mut handles = Vec::new();
    for stream in listener.incoming().take(limit.unwrap_or(usize::MAX)) {
        let stream = stream?;
        handles.push(std::thread::spawn(move || serve(stream)));
    }
    for handle in handles {
        let _ = handle.join();
    }
    Ok(())
}

/// Connects to the Unix socket at `path`, sends each line as a text message and writes each
/// echo to `out`; then closes.
pub fn chat(
    path: &Path,
    lines: impl IntoIterator<Item = String>,
    mut out: impl Write,
) -> Result<(), WsError> {
    let stream = UnixStream::connect(path)?;
    // The Host header is required; on a Unix socket any name will do.
    let request = ClientRequest::new("localhost", "/");
    let (mut ws, _response) = WebSocket::client(stream, request, Config::default())?;
    for line in lines {
        ws.send(Message::text(line))?;
        match ws.recv()? {
            Some(Message::Text(echo)) => writeln!(out, "{echo}")?,
            Some(other) => writeln!(out, "{other:?}")?,
            // The server ended the connection.
            None => return Ok(()),
        }
    }
    ws.close(CloseCode::NORMAL, "bye")?;
    // Finish the close handshake: the server's echo, then the clean end.
    while ws.recv()?.is_some() {}
    Ok(())
}

#[allow(dead_code)]
fn main() -> Result<(), WsError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["--listen", path] => listen(Path::new(path), None),
        ["--connect", path] => {
            let lines = io::stdin().lock().lines().map_while(Result::ok);
            chat(Path::new(path), lines, io::stdout())
        }
        ["--stdio"] => {
            let echoed = serve(Duplex {
                reader: io::stdin(),
                writer: io::stdout(),
            })?;
            eprintln!("unix_socket --stdio: echoed {echoed} messages");
            Ok(())
        }
        _ => {
            eprintln!("usage: unix_socket (--listen PATH | --connect PATH | --stdio)");
            std::process::exit(2);
        }
    }
}
