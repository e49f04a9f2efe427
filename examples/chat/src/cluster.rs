//! Several nodes over Redis (`--redis URL`): one room, wherever its members are connected.
//!
//! | Key or channel          | What it holds |
//! |-------------------------|---------------|
//! | `chat:events` (channel) | every event as JSON ([`Event`]): messages, direct messages, joins, leaves; each node applies what it receives, its own events included |
//! | `chat:next-id`          | the message id counter |
//! | `chat:history:ROOM`     | sorted set: score the id, member the message's JSON; the last [`HISTORY_KEPT`] per room |
//! | `chat:online:ROOM`      | sorted set: member `NODE/CONN NAME`, score the time it expires (ms) |
//! | `chat:rooms`            | set of the rooms that have had members |
//!
//! A message is stored and published by one script, so its id, its place in the history and its
//! place in every node's stream agree. A node refreshes its presence entries every
//! [`REFRESH`]; they expire [`PRESENCE_TTL`] after the last refresh, so when a node dies its
//! users leave the other nodes' lists within `PRESENCE_TTL + SYNC` (at most 17 s). The TTL is
//! seven refreshes long: a node busy enough to miss a few (10,000 clients joining at once on a
//! 2-core machine did, with 10 s) does not lose its users from the other nodes' lists.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use crate::hub::{Event, Hub, Presence};
use crate::protocol::{self, ChatMessage, DirectMessage};

/// Messages kept per room.
pub const HISTORY_KEPT: usize = 10_000;
/// How long a presence entry lives without a refresh.
pub const PRESENCE_TTL: Duration = Duration::from_secs(15);
/// How often a node refreshes its entries.
pub const REFRESH: Duration = Duration::from_secs(2);
/// How often a node reads every room's entries to notice dead nodes.
pub const SYNC: Duration = Duration::from_secs(2);

/// How long a node waits for Redis to answer a command: 5 s. (The client's default, 500 ms, is
/// shorter than a busy machine's worst moments: 10,000 clients joining at once on two cores.)
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

const EVENTS: &str = "chat:events";
const NEXT_ID: &str = "chat:next-id";
const ROOMS: &str = "chat:rooms";

/// Stores the message, trims the room's history and publishes the event, atomically. `ARGV[1]`
/// is the message's JSON without its opening brace; the script puts the id in front.
const SAY: &str = r#"
local id = redis.call('INCR', KEYS[1])
local data = '{"id":' .. id .. ',' .. ARGV[1]
redis.call('ZADD', KEYS[2], id, data)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PUBLISH', KEYS[3], '{"type":"message","data":' .. data .. '}')
return id
"#;

/// A node's connection to Redis.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    con: MultiplexedConnection,
    say: Arc<redis::Script>,
}

fn history_key(room: &str) -> String {
    format!("chat:history:{room}")
}

fn online_key(room: &str) -> String {
    format!("chat:online:{room}")
}

fn expiry() -> i64 {
    protocol::now_ms() + PRESENCE_TTL.as_millis() as i64
}

impl Redis {
    /// Connects to `url` (`redis://127.0.0.1:6379`).
    pub async fn connect(url: &str) -> redis::RedisResult<Redis> {
        let client = redis::Client::open(url)?;
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(REDIS_TIMEOUT));
        let con = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(Redis {
            client,
            con,
            say: Arc::new(redis::Script::new(SAY)),
        })
    }

    /// Stores and publishes a message; every node (this one too) delivers it when it comes
    /// back on the channel.
    pub async fn say(
        &self,
        room: &str,
        from: &str,
        text: &str,
        ts: i64,
    ) -> redis::RedisResult<i64> {
        let body =
            serde_json::json!({"room": room, "from": from, "text": text, "ts": ts}).to_string();
        let mut con = self.con.clone();
        self.say
            .key(NEXT_ID)
            .key(history_key(room))
            .key(EVENTS)
            .arg(&body[1..])
            .arg(HISTORY_KEPT)
            .invoke_async(&mut con)
            .await
    }

    /// Publishes a direct message.
    pub async fn dm(&self, m: &DirectMessage) -> redis::RedisResult<()> {
        self.publish(&Event::Dm(m.clone())).await
    }

    async fn publish(&self, event: &Event) -> redis::RedisResult<()> {
        let json = serde_json::to_string(event).unwrap_or_default();
        let mut con = self.con.clone();
        con.publish::<_, _, ()>(EVENTS, json).await
    }

    /// Records a connection's presence and announces it.
    pub async fn join(&self, p: &Presence) -> redis::RedisResult<()> {
        let mut con = self.con.clone();
        redis::pipe()
            .atomic()
            .zadd(
                online_key(&p.room),
                format!("{} {}", p.key, p.name),
                expiry(),
            )
            .ignore()
            .sadd(ROOMS, &p.room)
            .ignore()
            .publish(
                EVENTS,
                serde_json::to_string(&Event::Join(p.clone())).unwrap_or_default(),
            )
            .ignore()
            .query_async::<()>(&mut con)
            .await
    }

    /// Removes a connection's presence and announces it.
    pub async fn leave(&self, p: &Presence) -> redis::RedisResult<()> {
        let mut con = self.con.clone();
        redis::pipe()
            .atomic()
            .zrem(online_key(&p.room), format!("{} {}", p.key, p.name))
            .ignore()
            .publish(
                EVENTS,
                serde_json::to_string(&Event::Leave(p.clone())).unwrap_or_default(),
            )
            .ignore()
            .query_async::<()>(&mut con)
            .await
    }

    /// The last `limit` messages of a room, oldest first.
    pub async fn recent(&self, room: &str, limit: usize) -> redis::RedisResult<Vec<ChatMessage>> {
        let mut con = self.con.clone();
        let start = -(limit as isize);
        let raw: Vec<String> = con.zrange(history_key(room), start, -1).await?;
        Ok(parse_messages(room, &raw))
    }

    /// Up to `limit` messages of a room after `after`, oldest first.
    pub async fn after(
        &self,
        room: &str,
        after: i64,
        limit: usize,
    ) -> redis::RedisResult<Vec<ChatMessage>> {
        let mut con = self.con.clone();
        let raw: Vec<String> = con
            .zrangebyscore_limit(
                history_key(room),
                format!("({after}"),
                "+inf",
                0,
                limit as isize,
            )
            .await?;
        Ok(parse_messages(room, &raw))
    }

    /// Follows `chat:events` into the hub, resubscribing (every second) after a lost connection.
    /// Runs until the process ends.
    pub async fn follow(self, hub: Arc<Hub>) {
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(EVENTS).await {
                    Ok(()) => {
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let Ok(payload) = msg.get_payload::<String>() else {
                                continue;
                            };
                            match serde_json::from_str::<Event>(&payload) {
                                // This node's own presence was applied when it happened;
                                // its echo could come back after a later change.
                                Ok(Event::Join(p) | Event::Leave(p)) if hub.is_own(&p.key) => {}
                                Ok(event) => hub.apply(&event),
                                Err(e) => eprintln!("chat: unreadable event on {EVENTS}: {e}"),
                            }
                        }
                        eprintln!("chat: lost the Redis subscription; resubscribing");
                    }
                    Err(e) => eprintln!("chat: cannot subscribe to {EVENTS}: {e}"),
                },
                Err(e) => eprintln!("chat: cannot reach Redis for the subscription: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Keeps this node's presence entries alive and its view of other nodes' entries current.
    /// Runs until the process ends.
    pub async fn keep_presence(self, hub: Arc<Hub>) {
        let mut refresh = tokio::time::interval(REFRESH);
        let mut sync = tokio::time::interval(SYNC);
        loop {
            tokio::select! {
                _ = refresh.tick() => {
                    if let Err(e) = self.refresh(&hub).await {
                        eprintln!("chat: cannot refresh presence in Redis: {e}");
                    }
                }
                _ = sync.tick() => {
                    if let Err(e) = self.sync(&hub).await {
                        eprintln!("chat: cannot read presence from Redis: {e}");
                    }
                }
            }
        }
    }

    async fn refresh(&self, hub: &Hub) -> redis::RedisResult<()> {
        let entries = hub.own_entries();
        if entries.is_empty() {
            return Ok(());
        }
        let until = expiry();
        let mut pipe = redis::pipe();
        for (room, key, name) in entries {
            pipe.zadd(online_key(&room), format!("{key} {name}"), until)
                .ignore();
        }
        let mut con = self.con.clone();
        pipe.query_async::<()>(&mut con).await
    }

    async fn sync(&self, hub: &Hub) -> redis::RedisResult<()> {
        let mut con = self.con.clone();
        let mut rooms: Vec<String> = con.smembers(ROOMS).await?;
        rooms.extend(hub.room_names());
        rooms.sort();
        rooms.dedup();
        // Every room in one round trip: drop what expired, read what lives.
        let now = protocol::now_ms();
        let read_at = std::time::Instant::now();
        let mut pipe = redis::pipe();
        for room in &rooms {
            let key = online_key(room);
            pipe.zrembyscore(&key, "-inf", now)
                .ignore()
                .zrangebyscore(&key, now, "+inf");
        }
        let live: Vec<Vec<String>> = pipe.query_async(&mut con).await?;
        for (room, members) in rooms.iter().zip(live) {
            let entries: HashMap<String, String> = members
                .iter()
                .filter_map(|m| m.split_once(' '))
                .map(|(k, n)| (k.to_owned(), n.to_owned()))
                .collect();
            hub.sync_room(room, &entries, read_at);
        }
        Ok(())
    }
}

fn parse_messages(room: &str, raw: &[String]) -> Vec<ChatMessage> {
    raw.iter()
        .filter_map(|json| serde_json::from_str::<ChatMessage>(json).ok())
        .filter(|m| m.room == room)
        .collect()
}
