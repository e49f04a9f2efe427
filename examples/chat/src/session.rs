//! One WebSocket: authentication, then a loop that reads the client's messages and writes what
//! the room queued for it, until either side closes or the server shuts down.
//!
//! The loop has one task per connection and never blocks the room: fan-out only queues
//! (see [`crate::outbox`]). A client that sends faster than [`RATE`] messages per second (after
//! a burst of [`BURST`]) is not read from until it is back under the rate: TCP then slows the
//! sender down, and nobody else pays for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use wsproto::CloseCode;
use wsproto::axum::{Message, WebSocket};

use crate::app::App;
use crate::hub::{ConnId, Presence};
use crate::outbox::{Outbox, Pop};
use crate::protocol::{self, ClientMessage, LOBBY, MAX_NAME, MAX_ROOM, MAX_TEXT};

/// Messages per second a connection may send, sustained.
pub const RATE: f64 = 10.0;
/// Messages a connection may send at once before [`RATE`] applies.
pub const BURST: f64 = 20.0;
/// How long a client has for its `token` message.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one frame may take to write before the member counts as gone.
pub const SEND_STALL: Duration = Duration::from_secs(10);
/// Frames written before the loop reads again.
const WRITE_BATCH: usize = 64;

/// Who the client is, as far as the handshake could tell.
pub enum Auth {
    /// No tokens required: the client picks a name.
    Anonymous,
    /// A valid `?token=`: the token's name.
    Named(String),
    /// Tokens required and none in the URL: the first message must be one.
    Pending,
}

/// Runs one connection to its end.
pub async fn run(app: Arc<App>, mut ws: WebSocket, auth: Auth) {
    let _guard = app.session();
    let mut shutdown = app.shutdown.clone();
    let name = match auth {
        Auth::Anonymous => None,
        Auth::Named(name) => Some(name),
        Auth::Pending => match first_token(&app, &mut ws).await {
            Ok(name) => Some(name),
            Err(reason) => {
                let _ = ws.close(CloseCode::POLICY_VIOLATION, reason).await;
                drain(&mut ws).await;
                return;
            }
        },
    };
    let (conn, outbox) = app.hub.connect();
    if let Some(name) = &name {
        app.hub.set_name(conn, name);
    }
    welcome(&app, conn, name.as_deref());
    match app.recent(LOBBY).await {
        Ok(history) => app.hub.send_to(conn, protocol::history(LOBBY, &history)),
        Err(reason) => app.hub.send_to(conn, protocol::error(&reason)),
    }
    let mut session = Session {
        app: Arc::clone(&app),
        conn,
        tokens: BURST,
        refilled: Instant::now(),
    };
    let mut throttled_until: Option<Instant> = None;
    let end = loop {
        let throttle = throttled_until.unwrap_or_else(Instant::now);
        tokio::select! {
            biased;
            () = stopping(&mut shutdown) => {
                break Some((CloseCode::GOING_AWAY, "server shutting down"));
            }
            () = outbox.ready() => match write_queued(&mut ws, &outbox).await {
                Ok(()) => {}
                Err(Some(reason)) => break Some((CloseCode::POLICY_VIOLATION, reason)),
                Err(None) => break None,
            },
            () = tokio::time::sleep_until(throttle), if throttled_until.is_some() => {
                throttled_until = None;
            }
            received = ws.recv(), if throttled_until.is_none() => match received {
                Some(Ok(Message::Text(text))) => {
                    session.handle(text.as_str()).await;
                    throttled_until = session.take_token();
                }
                Some(Ok(Message::Binary(_))) => {
                    app.hub.send_to(conn, protocol::error("binary messages are not supported; send JSON text"));
                }
                // Pings are answered and the close is echoed by the adapter.
                Some(Ok(_)) => {}
                // The clean end, or a failure (the adapter has sent its close code).
                None | Some(Err(_)) => break None,
            },
        }
    };
    if let Some((code, reason)) = end {
        let _ = ws.close(code, reason).await;
        drain(&mut ws).await;
    }
    let name = app.hub.name(conn);
    for room in app.hub.disconnect(conn) {
        if let Some(name) = &name {
            app.left(Presence {
                room,
                name: name.clone(),
                key: app.hub.key(conn),
            })
            .await;
        }
    }
}

/// Resolves once shutdown has begun (at once if it has).
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        // The sender is gone only when the process is ending anyway.
        std::future::pending::<()>().await;
    }
}

/// Reads until the close handshake ends (bounded by the adapter's close timeout).
async fn drain(ws: &mut WebSocket) {
    while let Some(Ok(_)) = ws.recv().await {}
}

/// The name of a valid first-message token, or the close reason.
async fn first_token(app: &App, ws: &mut WebSocket) -> Result<String, &'static str> {
    let first = tokio::time::timeout(TOKEN_TIMEOUT, async {
        loop {
            match ws.recv().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Binary(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .map_err(|_| "authentication timed out: send a token first")?
    .ok_or("authentication required: send a token first")?;
    let Ok(ClientMessage::Token(token)) = ClientMessage::parse(first.as_str()) else {
        return Err("authentication required: send a token first");
    };
    app.tokens
        .as_ref()
        .and_then(|tokens| tokens.name(&token))
        .map(str::to_owned)
        .ok_or("invalid token")
}

/// The first messages: `welcome`, then the lobby's online list (its history follows).
fn welcome(app: &App, conn: ConnId, name: Option<&str>) {
    let rooms: Vec<_> = app
        .hub
        .rooms()
        .into_iter()
        .map(|(room, online)| serde_json::json!({"room": room, "online": online}))
        .collect();
    let data = serde_json::json!({
        "name": name,
        "rooms": rooms,
        "limits": {"name": MAX_NAME, "text": MAX_TEXT, "room": MAX_ROOM},
    });
    app.hub.send_to(conn, protocol::server("welcome", data));
    app.hub.send_online(conn, LOBBY, None);
}

/// Writes up to [`WRITE_BATCH`] queued frames. `Err(Some(reason))`: dropped as too slow;
/// `Err(None)`: the connection is gone.
async fn write_queued(ws: &mut WebSocket, outbox: &Outbox) -> Result<(), Option<&'static str>> {
    for _ in 0..WRITE_BATCH {
        match outbox.pop() {
            Pop::Frame(frame) => {
                match tokio::time::timeout(SEND_STALL, ws.inner_mut().send_prepared(&frame)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(None),
                    Err(_) => return Err(Some("too slow: a write stalled for 10 s")),
                }
            }
            Pop::Empty => return Ok(()),
            Pop::Dropped(reason) => return Err(Some(reason)),
        }
    }
    // More is queued: come back after reading.
    outbox.wake();
    Ok(())
}

/// A connection's state between messages.
struct Session {
    app: Arc<App>,
    conn: ConnId,
    tokens: f64,
    refilled: Instant,
}

impl Session {
    /// Spends one message of the rate; when none is left, the time reading may resume.
    fn take_token(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * RATE;
        self.tokens = (self.tokens + earned).min(BURST) - 1.0;
        self.refilled = now;
        (self.tokens < 0.0).then(|| now + Duration::from_secs_f64(-self.tokens / RATE))
    }

    fn reply_error(&self, reason: &str) {
        self.app.hub.send_to(self.conn, protocol::error(reason));
    }

    async fn handle(&mut self, text: &str) {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(reason) => return self.reply_error(&reason),
        };
        if let Err(reason) = self.dispatch(message).await {
            self.reply_error(&reason);
        }
    }

    async fn dispatch(&mut self, message: ClientMessage) -> Result<(), String> {
        let (app, conn) = (Arc::clone(&self.app), self.conn);
        match message {
            ClientMessage::Token(_) => Err("already authenticated".to_owned()),
            ClientMessage::Join { room, name } => {
                let room = protocol::check_room(&room)?;
                let name = match (app.hub.name(conn), name) {
                    (Some(current), _) => current,
                    (None, Some(wanted)) => {
                        let name = protocol::check_name(&wanted)?.to_owned();
                        app.hub.set_name(conn, &name);
                        name
                    }
                    (None, None) => {
                        return Err(
                            "choose a name: join with {\"room\": ..., \"name\": ...}".into()
                        );
                    }
                };
                let new = app.hub.enter(conn, room)?;
                let history = match app.recent(room).await {
                    Ok(history) => history,
                    Err(reason) => {
                        // Not in the room without its history and presence: a retry starts over.
                        if new {
                            app.hub.exit(conn, room);
                        }
                        return Err(reason);
                    }
                };
                app.hub.send_to(conn, protocol::history(room, &history));
                app.hub.send_online(conn, room, Some(&name));
                if new {
                    let key = app.hub.key(conn);
                    app.joined(Presence {
                        room: room.to_owned(),
                        name,
                        key,
                    })
                    .await;
                }
                Ok(())
            }
            ClientMessage::Leave { room } => {
                if !app.hub.exit(conn, &room) {
                    return Err(format!("you are not in the room {room}"));
                }
                if let Some(name) = app.hub.name(conn) {
                    let key = app.hub.key(conn);
                    app.left(Presence { room, name, key }).await;
                }
                Ok(())
            }
            ClientMessage::Message { room, text } => {
                if !app.hub.is_member(conn, &room) {
                    return Err(format!("join the room {room} before writing to it"));
                }
                let text = protocol::check_text(&text)?;
                let from = app.hub.name(conn).unwrap_or_default();
                app.say(&room, &from, text).await
            }
            ClientMessage::Dm { to, text } => {
                let Some(from) = app.hub.name(conn) else {
                    return Err("choose a name before sending a direct message".into());
                };
                let to = protocol::check_name(&to)?;
                let text = protocol::check_text(&text)?;
                if !app.hub.is_online(to) {
                    return Err(format!("{to} is not online"));
                }
                app.dm(&from, to, text).await
            }
        }
    }
}
