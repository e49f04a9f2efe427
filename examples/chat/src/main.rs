//! A chat room for browsers.
//!
//! `cargo run --release -p chat -- [ADDR]` (default `127.0.0.1:8080`),
//! then open `http://ADDR/` in a few tabs. `GET /` serves the page (`index.html`, compiled in);
//! `/chat` is the WebSocket.
//!
//! Messages are JSON `{"type": ..., "data": ...}`. The page sends `join` (data: the nickname)
//! and then `message` (data: the text). The server sends `history` (the last 50 messages, to a
//! newcomer), `welcome` (the nickname it got and the online count), `message`, `join` and
//! `leave` (both with the online count) and `error`.
//!
//! The server pings idle clients (the adapter's default keepalive: a ping after 20 s of silence,
//! 1011 after 20 s more) and drops those that do not answer in time, and drops clients too slow to take their messages. Chromium offers
//! `permessage-deflate`; the server leaves it unanswered, which declines it.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Answer, Message, Reject, WsError};
use wsproto::{CloseCode, Config, PreparedFrame};

const PAGE: &str = include_str!("../index.html");
const HISTORY: usize = 50;
const MAX_NICK: usize = 24;
const MAX_TEXT: usize = 2000;
/// Messages waiting for one client before it is dropped as too slow.
const CLIENT_QUEUE: usize = 256;
const MAX_HEAD: usize = 16 << 10;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "multi_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("chat listening on http://{}/", listener.local_addr()?);
    let room = Arc::new(Room::default());
    loop {
        let (stream, _) = listener.accept().await?;
        let room = Arc::clone(&room);
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            if let Err(e) = serve(stream, room).await {
                eprintln!("connection error: {e}");
            }
        });
    }
}

/// Routes one connection by its request line, which is peeked, not consumed: `/chat` goes to
/// the WebSocket handshake untouched.
async fn serve(stream: TcpStream, room: Arc<Room>) -> io::Result<()> {
    let Some(line) = tokio::time::timeout(HEAD_TIMEOUT, peek_request_line(&stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request line"))??
    else {
        return Ok(());
    };
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/chat") => Ok(chat(stream, room).await?),
        ("GET" | "HEAD", "/" | "/index.html") => {
            respond(
                stream,
                "200 OK",
                "text/html; charset=utf-8",
                PAGE,
                method == "HEAD",
            )
            .await
        }
        (_, "/" | "/index.html" | "/chat") => {
            respond(
                stream,
                "405 Method Not Allowed",
                "text/plain",
                "method not allowed\n",
                false,
            )
            .await
        }
        _ => {
            respond(
                stream,
                "404 Not Found",
                "text/plain",
                "not found\n",
                method == "HEAD",
            )
            .await
        }
    }
}

/// The request line, once it has arrived in full (`None` if the client left first).
async fn peek_request_line(stream: &TcpStream) -> io::Result<Option<String>> {
    let mut buf = vec![0u8; 2048];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            return Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()));
        }
        if n == buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request line too long",
            ));
        }
        // Only part of the line is here; peek returns at once, so wait a little.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Answers a plain HTTP request after reading its head, then closes the connection.
async fn respond(
    mut stream: TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
    head_only: bool,
) -> io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 || head.len() + n > MAX_HEAD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad request head",
                ));
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    tokio::time::timeout(HEAD_TIMEOUT, read_head)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "slow request head"))??;
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; \
         style-src 'unsafe-inline'; connect-src 'self'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    if !head_only {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

/// Accepts requests whose `Origin` (if any) names this server: another site's page must not
/// join the chat with the user's browser (RFC 6455 section 10.2).
fn answer(request: &wsproto::Request) -> Answer {
    let same_origin = match (request.origin(), request.host()) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    };
    if same_origin {
        Answer::accept()
    } else {
        Reject::forbidden()
            .body("cross-origin WebSocket refused\n")
            .into()
    }
}

fn config() -> Config {
    let config = Config::default()
        .max_message_size(64 << 10)
        .max_frame_size(64 << 10);
    // Browsers offer permessage-deflate; accept it when the feature is on.
    #[cfg(feature = "deflate")]
    let config = config.deflate(wsproto::deflate::DeflateConfig::default());
    config
}

async fn chat(stream: TcpStream, room: Arc<Room>) -> Result<(), WsError> {
    let mut ws = WebSocketStream::accept_with(stream, config(), answer).await?;
    let (tx, mut rx) = mpsc::channel::<PreparedFrame>(CLIENT_QUEUE);
    let mut tx = Some(tx);
    let mut member: Option<(u64, String)> = None;
    let mut kicked = false;
    loop {
        // `recv` is cancel safe, so racing it against the room's queue loses nothing.
        tokio::select! {
            received = ws.recv() => match received {
                Ok(Some(Message::Text(text))) => {
                    let reply = handle(&room, &text, &mut member, &mut tx);
                    if let Some(reply) = reply {
                        ws.send(Message::text(reply.to_string())).await?;
                    }
                }
                Ok(Some(Message::Binary(_))) => {
                    let reply = json!({"type": "error", "data": "binary messages are not supported"});
                    ws.send(Message::text(reply.to_string())).await?;
                }
                // Pings are answered and the close is echoed by the adapter.
                Ok(Some(_)) => {}
                // The clean end, or a failure the member's page will reconnect after.
                Ok(None) | Err(_) => break,
            },
            out = rx.recv(), if member.is_some() && !kicked => match out {
                Some(frame) => {
                    if ws.send_prepared(&frame).await.is_err() {
                        break;
                    }
                }
                // The room dropped us for falling behind.
                None => {
                    kicked = true;
                    let _ = ws.close(CloseCode::POLICY_VIOLATION, "too slow").await;
                }
            },
        }
    }
    if let Some((id, nick)) = member {
        room.leave(id, &nick);
    }
    Ok(())
}

/// Handles one message from a client; returns a reply for this client alone.
fn handle(
    room: &Room,
    text: &str,
    member: &mut Option<(u64, String)>,
    tx: &mut Option<mpsc::Sender<PreparedFrame>>,
) -> Option<Value> {
    let error = |why: &str| Some(json!({"type": "error", "data": why}));
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return error("messages must be JSON {\"type\": ..., \"data\": ...}");
    };
    let data = msg.get("data").and_then(Value::as_str).unwrap_or("");
    match msg.get("type").and_then(Value::as_str) {
        Some("join") if member.is_none() => {
            let nick = data.trim();
            if nick.is_empty()
                || nick.chars().count() > MAX_NICK
                || nick.chars().any(char::is_control)
            {
                return error("a nickname has 1 to 24 characters and no control characters");
            }
            let sender = tx.take()?;
            *member = Some(room.join(nick, sender));
            None
        }
        Some("join") => error("already joined"),
        Some("message") => {
            let Some((_, nick)) = member.as_ref() else {
                return error("join first");
            };
            let text = data.trim();
            if text.is_empty() {
                return None;
            }
            if text.chars().count() > MAX_TEXT {
                return error("messages have at most 2000 characters");
            }
            room.say(nick, text);
            None
        }
        _ => error("unknown message type"),
    }
}

#[derive(Default)]
struct Room {
    state: Mutex<RoomState>,
}

#[derive(Default)]
struct RoomState {
    next_id: u64,
    members: HashMap<u64, Member>,
    history: VecDeque<Value>,
}

struct Member {
    nick: String,
    tx: mpsc::Sender<PreparedFrame>,
}

impl RoomState {
    /// Sends to everyone; members whose queue is full are dropped (their session then ends
    /// and announces the leave).
    fn broadcast(&mut self, msg: &Value) {
        // Framed once; every member's connection queues the same bytes.
        let frame = PreparedFrame::text(msg.to_string());
        self.members
            .retain(|_, member| member.tx.try_send(frame.clone()).is_ok());
    }

    fn online(&self) -> usize {
        self.members.len()
    }
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a member under a unique nickname; it gets the history and a welcome first.
    fn join(&self, wanted: &str, tx: mpsc::Sender<PreparedFrame>) -> (u64, String) {
        let mut state = self.lock();
        let taken = |nick: &str, state: &RoomState| state.members.values().any(|m| m.nick == nick);
        let mut nick = wanted.to_owned();
        let mut n = 2;
        while taken(&nick, &state) {
            nick = format!("{wanted}#{n}");
            n += 1;
        }
        let id = state.next_id;
        state.next_id += 1;
        let history: Vec<Value> = state.history.iter().cloned().collect();
        let online = state.online() + 1;
        // The queue is new and empty: these fit.
        let _ = tx.try_send(PreparedFrame::text(
            json!({"type": "history", "data": history}).to_string(),
        ));
        let welcome = json!({"type": "welcome", "data": {"nick": nick, "online": online}});
        let _ = tx.try_send(PreparedFrame::text(welcome.to_string()));
        state.members.insert(
            id,
            Member {
                nick: nick.clone(),
                tx,
            },
        );
        let online = state.online();
        state.broadcast(&json!({"type": "join", "data": {"nick": nick, "online": online}}));
        (id, nick)
    }

    fn say(&self, nick: &str, text: &str) {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let entry = json!({"nick": nick, "text": text, "time": time});
        let mut state = self.lock();
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(entry.clone());
        state.broadcast(&json!({"type": "message", "data": entry}));
    }

    fn leave(&self, id: u64, nick: &str) {
        let mut state = self.lock();
        state.members.remove(&id);
        let online = state.online();
        state.broadcast(&json!({"type": "leave", "data": {"nick": nick, "online": online}}));
    }
}
