//! A chat room on axum, ported from the style of axum's own WebSocket chat example to
//! `wsproto::axum`, which adds permessage-deflate, keepalive pings and HTTP/2 WebSockets.
//!
//! `cargo run --features axum --example axum_chat -- [ADDR]` (default `127.0.0.1:3000`), then
//! open `http://127.0.0.1:3000/` in two tabs. The first message of a socket is its user name;
//! every later one is sent to everyone as `name: text`, with join and leave notices.
//!
//! What changed from a handler written for `axum::extract::ws`:
//!
//! - the import: `use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};` instead of
//!   `use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};`;
//! - text to send is built with `Message::text(..)` (a `String` or `&'static str`, uncopied)
//!   rather than `Message::Text(..into())`;
//! - nothing else: `on_upgrade`, `recv`, `send`, and `StreamExt::split` into a sink and a stream
//!   are the same calls.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast;
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};

/// Names in use, and the channel every message goes through.
struct AppState {
    names: Mutex<HashSet<String>>,
    tx: broadcast::Sender<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener =
        tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:3000")).await?;
    eprintln!("axum_chat listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app()).await
}

/// The router: the page at `/`, its WebSocket at `/websocket`.
pub fn app() -> Router {
    let (tx, _) = broadcast::channel(100);
    let state = Arc::new(AppState {
        names: Mutex::new(HashSet::new()),
        tx,
    });
    Router::new()
        .route("/", get(index))
        .route("/websocket", get(websocket_handler))
        .with_state(state)
}

async fn websocket_handler(
    ws: WebSocketUpgrade,
    State(state): State<Arc<AppState>>,
) -> impl IntoResponse {
    ws.on_upgrade(|socket| websocket(socket, state))
}

async fn websocket(stream: WebSocket, state: Arc<AppState>) {
    let (mut sender, mut receiver) = stream.split();

    // The first text message is the name; a taken or empty one ends the socket.
    let mut name = String::new();
    while let Some(Ok(message)) = receiver.next().await {
        if let Message::Text(text) = message {
            if claim(&state, text.as_str()) {
                name = text.as_str().to_owned();
                break;
            }
            let _ = sender
                .send(Message::text("That name is taken or empty."))
                .await;
            return;
        }
    }
    if name.is_empty() {
        return;
    }

    // Subscribe before announcing, so the newcomer sees its own join.
    let mut rx = state.tx.subscribe();
    let _ = state.tx.send(format!("{name} joined."));

    let mut send_task = tokio::spawn(async move {
        while let Ok(line) = rx.recv().await {
            if sender.send(Message::text(line)).await.is_err() {
                break;
            }
        }
    });
    let tx = state.tx.clone();
    let who = name.clone();
    let mut recv_task = tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = receiver.next().await {
            let _ = tx.send(format!("{who}: {}", text.as_str()));
        }
    });
    // Whichever ends first, the other goes too.
    tokio::select! {
        _ = &mut send_task => recv_task.abort(),
        _ = &mut recv_task => send_task.abort(),
    }

    let _ = state.tx.send(format!("{name} left."));
    if let Ok(mut names) = state.names.lock() {
        names.remove(&name);
    }
}

/// Takes `name` if it is free and not empty.
fn claim(state: &AppState, name: &str) -> bool {
    let name = name.trim();
    !name.is_empty()
        && name.chars().count() <= 32
        && state
            .names
            .lock()
            .is_ok_and(|mut names| names.insert(name.to_owned()))
}

async fn index() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>axum chat on wsproto</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 1rem auto; max-width: 40rem; padding: 0 1rem; }
  #log { border: 1px solid #ccc; height: 60vh; overflow-y: auto; padding: .5rem; white-space: pre-wrap; }
  input { font: inherit; width: 100%; box-sizing: border-box; margin-top: .5rem; padding: .4rem; }
</style>
<h1>axum chat</h1>
<p id="status">Pick a name and press Enter.</p>
<div id="log"></div>
<input id="name" placeholder="your name" autofocus>
<input id="text" placeholder="message" disabled>
<script>
const log = document.getElementById("log");
const nameBox = document.getElementById("name");
const textBox = document.getElementById("text");
const status = document.getElementById("status");
function show(line) {
  const div = document.createElement("div");
  div.textContent = line;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}
nameBox.addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || !nameBox.value.trim()) return;
  const ws = new WebSocket(`ws://${location.host}/websocket`);
  ws.onopen = () => {
    ws.send(nameBox.value.trim());
    nameBox.disabled = true;
    textBox.disabled = false;
    textBox.focus();
    status.textContent = `connected, extensions: ${ws.extensions || "none"}`;
  };
  ws.onmessage = (e) => show(e.data);
  ws.onclose = (e) => {
    status.textContent = `disconnected (${e.code}${e.reason ? ": " + e.reason : ""})`;
    nameBox.disabled = false;
    textBox.disabled = true;
  };
  textBox.onkeydown = (e) => {
    if (e.key === "Enter" && textBox.value) {
      ws.send(textBox.value);
      textBox.value = "";
    }
  };
});
</script>
</html>
"#;
