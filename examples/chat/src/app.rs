//! The chat as one value: the hub, where history lives (SQLite alone, or Redis shared by
//! several nodes), the tokens, and the shutdown signal every session watches.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::cluster::Redis;
use crate::hub::{Event, Hub, Presence};
use crate::protocol::{ChatMessage, DirectMessage, now_ms};
use crate::store::Sqlite;

/// Messages sent to a connection when it joins a room.
pub const HISTORY_ON_JOIN: usize = 50;
/// Messages `GET /history` returns at most per call.
pub const HISTORY_PAGE: usize = 500;

/// Where history is kept and events travel.
pub enum Backend {
    /// One node: SQLite, events delivered in-process.
    Local(Sqlite),
    /// Several nodes: Redis pub/sub and Redis history.
    Redis(Box<Redis>),
}

/// Tokens from `--tokens FILE`: one `TOKEN NAME` per line (`#` starts a comment).
pub struct Tokens(HashMap<String, String>);

impl Tokens {
    /// Reads the file.
    pub fn load(path: &Path) -> std::io::Result<Tokens> {
        let text = std::fs::read_to_string(path)?;
        let mut map = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((token, name)) = line.split_once(char::is_whitespace) else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: expected `TOKEN NAME`", path.display(), n + 1),
                ));
            };
            let name = crate::protocol::check_name(name).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), n + 1),
                )
            })?;
            map.insert(token.to_owned(), name.to_owned());
        }
        Ok(Tokens(map))
    }

    /// The name a token stands for.
    pub fn name(&self, token: &str) -> Option<&str> {
        self.0.get(token).map(String::as_str)
    }
}

/// Counts the live sessions, so that shutdown can wait for their close handshakes.
#[derive(Default)]
pub struct Sessions {
    live: AtomicUsize,
    idle: Notify,
}

/// Held by a session while it runs.
pub struct SessionGuard(Arc<App>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if self.0.sessions.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.sessions.idle.notify_waiters();
        }
    }
}

/// The chat.
pub struct App {
    /// This node's connections and view of the rooms.
    pub hub: Arc<Hub>,
    /// History and events.
    pub backend: Backend,
    /// `Some` when tokens are required.
    pub tokens: Option<Tokens>,
    /// Becomes `true` on SIGINT or SIGTERM.
    pub shutdown: watch::Receiver<bool>,
    sessions: Sessions,
}

impl App {
    /// The chat on a backend.
    pub fn new(
        hub: Arc<Hub>,
        backend: Backend,
        tokens: Option<Tokens>,
        shutdown: watch::Receiver<bool>,
    ) -> App {
        App {
            hub,
            backend,
            tokens,
            shutdown,
            sessions: Sessions::default(),
        }
    }

    /// Counts a session until the guard drops.
    pub fn session(self: &Arc<Self>) -> SessionGuard {
        self.sessions.live.fetch_add(1, Ordering::AcqRel);
        SessionGuard(Arc::clone(self))
    }

    /// Waits until every session has ended, or `limit` has passed; the sessions left.
    pub async fn wait_for_sessions(&self, limit: Duration) -> usize {
        let wait = async {
            loop {
                let idle = self.sessions.idle.notified();
                if self.sessions.live.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.sessions.live.load(Ordering::Acquire)
    }

    /// Stores a message and delivers it to the room on every node.
    pub async fn say(&self, room: &str, from: &str, text: &str) -> Result<(), String> {
        let ts = now_ms();
        match &self.backend {
            Backend::Local(db) => {
                let (db, hub) = (db.clone(), Arc::clone(&self.hub));
                let (room, from, text) = (room.to_owned(), from.to_owned(), text.to_owned());
                let stored = tokio::task::spawn_blocking(move || {
                    db.append(&room, &from, &text, ts, |m| {
                        hub.apply(&Event::Message(m.clone()))
                    })
                })
                .await;
                match stored {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(store_error(&e)),
                    Err(e) => Err(store_error(&e)),
                }
            }
            Backend::Redis(redis) => redis
                .say(room, from, text, ts)
                .await
                .map(drop)
                .map_err(|e| store_error(&e)),
        }
    }

    /// Delivers a direct message on every node.
    pub async fn dm(&self, from: &str, to: &str, text: &str) -> Result<(), String> {
        let m = DirectMessage {
            from: from.to_owned(),
            to: to.to_owned(),
            text: text.to_owned(),
            ts: now_ms(),
        };
        match &self.backend {
            Backend::Local(_) => {
                self.hub.apply(&Event::Dm(m));
                Ok(())
            }
            Backend::Redis(redis) => redis.dm(&m).await.map_err(|e| store_error(&e)),
        }
    }

    /// Announces that a connection entered a room.
    pub async fn joined(&self, p: Presence) {
        match &self.backend {
            Backend::Local(_) => self.hub.apply(&Event::Join(p)),
            Backend::Redis(redis) => {
                // Applied here too, so the list is right at once; the echo from Redis is a no-op.
                self.hub.apply(&Event::Join(p.clone()));
                if let Err(e) = redis.join(&p).await {
                    eprintln!("chat: cannot record presence in Redis: {e}");
                }
            }
        }
    }

    /// Announces that a connection left a room.
    pub async fn left(&self, p: Presence) {
        match &self.backend {
            Backend::Local(_) => self.hub.apply(&Event::Leave(p)),
            Backend::Redis(redis) => {
                self.hub.apply(&Event::Leave(p.clone()));
                if let Err(e) = redis.leave(&p).await {
                    eprintln!("chat: cannot remove presence from Redis: {e}");
                }
            }
        }
    }

    /// The last messages of a room, oldest first.
    pub async fn recent(&self, room: &str) -> Result<Vec<ChatMessage>, String> {
        match &self.backend {
            Backend::Local(db) => {
                let (db, room) = (db.clone(), room.to_owned());
                match tokio::task::spawn_blocking(move || db.recent(&room, HISTORY_ON_JOIN)).await {
                    Ok(r) => r.map_err(|e| store_error(&e)),
                    Err(e) => Err(store_error(&e)),
                }
            }
            Backend::Redis(redis) => redis
                .recent(room, HISTORY_ON_JOIN)
                .await
                .map_err(|e| store_error(&e)),
        }
    }

    /// Up to [`HISTORY_PAGE`] messages of a room after `after`, oldest first.
    pub async fn after(&self, room: &str, after: i64) -> Result<Vec<ChatMessage>, String> {
        match &self.backend {
            Backend::Local(db) => {
                let (db, room) = (db.clone(), room.to_owned());
                match tokio::task::spawn_blocking(move || db.after(&room, after, HISTORY_PAGE))
                    .await
                {
                    Ok(r) => r.map_err(|e| store_error(&e)),
                    Err(e) => Err(store_error(&e)),
                }
            }
            Backend::Redis(redis) => redis
                .after(room, after, HISTORY_PAGE)
                .await
                .map_err(|e| store_error(&e)),
        }
    }
}

fn store_error(e: &dyn std::fmt::Display) -> String {
    eprintln!("chat: history store failed: {e}");
    "the message store is unavailable; try again in a moment".to_owned()
}
