//! The chat's wire protocol: every WebSocket message is a JSON text `{"type": ..., "data": ...}`.
//!
//! # Client to server
//!
//! | `type`    | `data`                                   | What it does |
//! |-----------|------------------------------------------|--------------|
//! | `token`   | `"TOKEN"`                                | Authenticates, when the server runs with `--tokens` and the socket's URL had no `?token=`. It must be the first message, within 10 s. |
//! | `join`    | `{"room": "lobby", "name": "alice"}`     | Enters a room under a name. The first join fixes the connection's name (with a token, the token's name is used); later joins may leave `name` out. |
//! | `leave`   | `{"room": "lobby"}`                      | Leaves a room. |
//! | `message` | `{"room": "lobby", "text": "hi 👋"}`     | Says something in a room the connection has joined. |
//! | `dm`      | `{"to": "bob", "text": "psst"}`          | A direct message to every connection named `bob`, on any node. |
//!
//! # Server to client
//!
//! | `type`    | `data` |
//! |-----------|--------|
//! | `welcome` | `{"name": null or "alice", "rooms": [{"room": "lobby", "online": 2}], "limits": {"name": 24, "text": 2000, "room": 32}}`: sent once, at once (after the token, if one is required). |
//! | `online`  | `{"room": "lobby", "names": ["alice", "bob"]}`: the names in a room. Sent for the lobby right after `welcome` (so a page shows who is there before choosing a name), and for a room on joining it. |
//! | `history` | `{"room": "lobby", "messages": [message, ...]}`: the last 50 messages of a room, oldest first: on joining it, and for the lobby right after `online`. |
//! | `join`    | `{"room": "lobby", "name": "carol"}`: a name came online in a room (its first connection there). |
//! | `leave`   | `{"room": "lobby", "name": "carol"}`: a name went offline in a room (its last connection there left, or its node died). |
//! | `message` | `{"room": "lobby", "id": 42, "from": "alice", "text": "hi 👋", "ts": 1764547200000}`: `id` grows with every message (shared by all nodes), `ts` is milliseconds since the Unix epoch. |
//! | `dm`      | `{"from": "alice", "to": "bob", "text": "psst", "ts": ...}`: to the recipient and, as a copy, to the sender's connections. |
//! | `error`   | `"a reason a person can read"`: the connection stays open. |
//!
//! A connection that has not joined any room yet watches the lobby: it gets the lobby's
//! messages, joins and leaves, so a page shows the conversation and who is there before a name
//! is chosen.
//!
//! # Order
//!
//! A connection gets `welcome`, `online` and `history` for the lobby, in that order, and on a
//! `join` a `history` and then an `online` for the room. The connection is in the room (or
//! watching the lobby) before its history is read, so live messages may arrive before the
//! `history` that also holds them: nothing is missed, but a client merges by `id` and counts
//! itself in sync only from the `history` on.
//!
//! # Limits
//!
//! Each one answered with an `error` that names it, the connection stays open:
//! names 1 to [`MAX_NAME`] characters without control characters; rooms 1 to [`MAX_ROOM`]
//! characters of `a-z`, `0-9`, `-` and `_`; texts 1 to [`MAX_TEXT`] characters; at most
//! [`MAX_ROOMS`] rooms, and [`MAX_JOINED`] joined by one connection. A message over the
//! WebSocket limit (64 KiB) is a protocol failure: close 1009, which the page shows.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Characters in a name.
pub const MAX_NAME: usize = 24;
/// Characters in a message's text.
pub const MAX_TEXT: usize = 2000;
/// Characters in a room's name.
pub const MAX_ROOM: usize = 32;
/// Rooms on the whole deployment.
pub const MAX_ROOMS: usize = 256;
/// Rooms one connection may be in at once.
pub const MAX_JOINED: usize = 16;
/// The room every page starts in.
pub const LOBBY: &str = "lobby";
/// Rooms listed even when empty.
pub const DEFAULT_ROOMS: [&str; 3] = [LOBBY, "rust", "random"];

/// A message from a client.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum ClientMessage {
    /// The first message when `--tokens` is on and the URL had none.
    Token(String),
    /// Enters a room.
    Join {
        /// Which room.
        room: String,
        /// Under which name; only the first join's counts.
        #[serde(default)]
        name: Option<String>,
    },
    /// Leaves a room.
    Leave {
        /// Which room.
        room: String,
    },
    /// Says something in a room.
    Message {
        /// Which room.
        room: String,
        /// What.
        text: String,
    },
    /// A direct message.
    Dm {
        /// To whom (a name).
        to: String,
        /// What.
        text: String,
    },
}

impl ClientMessage {
    /// Parses one text message; the error is what to tell the client.
    pub fn parse(text: &str) -> Result<ClientMessage, String> {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "could not read that message ({e}); messages are JSON {{\"type\": ..., \"data\": ...}}"
            )
        })
    }
}

/// A message said in a room, as stored and as sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatMessage {
    /// The room.
    pub room: String,
    /// Grows with every message of the deployment.
    pub id: i64,
    /// The sender's name.
    pub from: String,
    /// What was said.
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
}

/// A direct message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirectMessage {
    /// The sender's name.
    pub from: String,
    /// The recipient's name.
    pub to: String,
    /// What was said.
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub ts: i64,
}

/// The JSON text of a server message.
pub fn server(kind: &str, data: Value) -> String {
    json!({"type": kind, "data": data}).to_string()
}

/// An `error` message.
pub fn error(reason: &str) -> String {
    server("error", Value::String(reason.to_owned()))
}

/// A `message` message.
pub fn message(m: &ChatMessage) -> String {
    server("message", json!(m))
}

/// A `dm` message.
pub fn dm(m: &DirectMessage) -> String {
    server("dm", json!(m))
}

/// A `join` or `leave` notice.
pub fn presence(kind: &str, room: &str, name: &str) -> String {
    server(kind, json!({"room": room, "name": name}))
}

/// An `online` list.
pub fn online(room: &str, names: &[String]) -> String {
    server("online", json!({"room": room, "names": names}))
}

/// A `history` message.
pub fn history(room: &str, messages: &[ChatMessage]) -> String {
    server("history", json!({"room": room, "messages": messages}))
}

/// The trimmed name, or why it is refused.
pub fn check_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!(
            "a name has 1 to {MAX_NAME} characters and no control characters"
        ));
    }
    Ok(name)
}

/// The room's name, or why it is refused.
pub fn check_room(room: &str) -> Result<&str, String> {
    let ok = !room.is_empty()
        && room.len() <= MAX_ROOM
        && room
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(room)
    } else {
        Err(format!(
            "a room's name has 1 to {MAX_ROOM} characters of a-z, 0-9, - and _"
        ))
    }
}

/// The trimmed text, or why it is refused.
pub fn check_text(text: &str) -> Result<&str, String> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err("a message cannot be empty".to_owned());
    }
    if chars > MAX_TEXT {
        return Err(format!(
            "a message has at most {MAX_TEXT} characters (this one has {chars})"
        ));
    }
    Ok(text)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_message_parses() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"token","data":"t1"}"#),
            Ok(ClientMessage::Token("t1".into()))
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"join","data":{"room":"lobby","name":"ana"}}"#),
            Ok(ClientMessage::Join {
                room: "lobby".into(),
                name: Some("ana".into())
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"join","data":{"room":"rust"}}"#),
            Ok(ClientMessage::Join {
                room: "rust".into(),
                name: None
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"leave","data":{"room":"rust"}}"#),
            Ok(ClientMessage::Leave {
                room: "rust".into()
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"message","data":{"room":"r","text":"你好 👋"}}"#),
            Ok(ClientMessage::Message {
                room: "r".into(),
                text: "你好 👋".into()
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"dm","data":{"to":"bo","text":"x"}}"#),
            Ok(ClientMessage::Dm {
                to: "bo".into(),
                text: "x".into()
            })
        );
    }

    #[test]
    fn malformed_input_gets_a_reason() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"type":"shout","data":"x"}"#,
            r#"{"type":"message","data":{"room":"r"}}"#,
            r#"{"type":"message","data":"x"}"#,
        ] {
            let reason = ClientMessage::parse(bad).unwrap_err();
            assert!(
                reason.contains("could not read that message"),
                "{bad}: {reason}"
            );
        }
    }

    #[test]
    fn limits_name_themselves() {
        assert_eq!(check_name(" ana "), Ok("ana"));
        assert!(check_name(&"é".repeat(MAX_NAME)).is_ok());
        assert!(
            check_name(&"é".repeat(MAX_NAME + 1))
                .unwrap_err()
                .contains("24")
        );
        assert!(check_name("a\u{7}b").is_err());
        assert!(check_name("  ").is_err());
        assert_eq!(check_room("room-1_x"), Ok("room-1_x"));
        assert!(check_room("Room").is_err());
        assert!(
            check_room(&"a".repeat(MAX_ROOM + 1))
                .unwrap_err()
                .contains("32")
        );
        assert!(check_text(&"字".repeat(MAX_TEXT)).is_ok());
        let long = check_text(&"字".repeat(MAX_TEXT + 1)).unwrap_err();
        assert!(long.contains("2000") && long.contains("2001"), "{long}");
        assert!(check_text(" \n ").is_err());
    }
}
