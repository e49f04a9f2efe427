//! A chat server process and JSON clients for the tests, all on loopback, every wait bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpStream;
use wsproto::io::Message;
use wsproto::io::tokio::{MaybeTlsStream, WebSocketStream};
use wsproto::{CloseCode, Config};

/// How long any single wait may take.
/// (Longer than a dead node's presence takes to expire in tests/cluster.rs, 17 s.)
pub const WAIT: Duration = Duration::from_secs(25);

/// A chat process, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `chat ADDR ARGS...` and waits for its listening line.
    pub fn start(addr: &str, args: &[&str], log: &Path) -> Server {
        let err = std::fs::File::create(log).unwrap();
        // Waited for in `Drop` (or `terminate`).
        #[allow(clippy::zombie_processes)]
        let child = Command::new(env!("CARGO_BIN_EXE_chat"))
            .arg(addr)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start the chat binary");
        let deadline = Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(at) = text.find("chat listening on ") {
                let rest = &text[at + "chat listening on ".len()..];
                let line = rest.lines().next().unwrap_or("");
                let addr = line
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned();
                return Server {
                    child,
                    addr,
                    log: log.to_owned(),
                };
            }
            assert!(Instant::now() < deadline, "chat did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "chat did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the target directory's temp space.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `GET path` over HTTP/1.1; the status and the body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let code = status.split(' ').nth(1).unwrap_or("0").parse().unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    let body = rest
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (code, body)
}

/// The names of an `online` message's data.
pub fn names(online: &Value) -> Vec<String> {
    online["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

/// A JSON chat client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a client's socket ended.
#[derive(Debug)]
pub struct Closed {
    pub code: Option<CloseCode>,
    pub reason: String,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) =
            tokio::time::timeout(WAIT, wsproto::io::tokio::connect(url, Config::default()))
                .await
                .expect("connect in time")
                .expect("connect");
        Client { ws }
    }

    pub async fn send(&mut self, kind: &str, data: Value) {
        let text = json!({"type": kind, "data": data}).to_string();
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_owned())).await.unwrap();
    }

    /// The next JSON message, or how the socket ended.
    pub async fn next(&mut self) -> Result<Value, Closed> {
        loop {
            let got = tokio::time::timeout(WAIT, self.ws.recv())
                .await
                .expect("a message in time");
            match got {
                Ok(Some(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).unwrap());
                }
                Ok(Some(Message::Close(frame))) => {
                    return Err(Closed {
                        code: Some(frame.code()),
                        reason: frame.reason().to_owned(),
                    });
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Closed {
                        code: None,
                        reason: String::new(),
                    });
                }
                Err(e) => {
                    return Err(Closed {
                        code: e.close_code(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// Skips messages until one of `kind` for which `pick` holds.
    pub async fn until(&mut self, kind: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no {kind} in time");
            let msg = self
                .next()
                .await
                .unwrap_or_else(|c| panic!("closed waiting for {kind}: {c:?}"));
            if msg["type"] == kind && pick(&msg["data"]) {
                return msg["data"].clone();
            }
        }
    }

    /// Joins `room` as `name` and returns the history it got.
    pub async fn join(&mut self, room: &str, name: &str) -> Vec<Value> {
        self.send("join", json!({"room": room, "name": name})).await;
        // The join's answer is a history, then an online list. (A fresh connection first gets
        // the lobby's online list, then its history: an online list before any history is not
        // the answer.)
        let mut history = None;
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no answer to the join in time");
            let msg = self
                .next()
                .await
                .unwrap_or_else(|c| panic!("closed joining: {c:?}"));
            if msg["data"]["room"] != room {
                continue;
            }
            if msg["type"] == "history" {
                history = msg["data"]["messages"].as_array().cloned();
            } else if msg["type"] == "online" && history.is_some() {
                return history.unwrap_or_default();
            }
        }
    }

    /// Reads until the socket closes; how it closed.
    pub async fn closed(&mut self) -> Closed {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "not closed in time");
            if let Err(closed) = self.next().await {
                return closed;
            }
        }
    }
}
