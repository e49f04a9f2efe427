//! This node's view of the chat: its own connections, the rooms they are in, and who is online
//! in every room on every node. Events (a message, a direct message, a join, a leave) come in
//! through [`Hub::apply`], from this node or, with Redis, from any node; the hub turns each into
//! one prepared frame and queues it for the local connections it concerns. Connections in no
//! room yet watch the lobby: they get its messages, joins and leaves.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use wsproto::{DeflateConfig, PreparedFrame};

use crate::outbox::Outbox;
use crate::protocol::{
    self, ChatMessage, DEFAULT_ROOMS, DirectMessage, LOBBY, MAX_JOINED, MAX_ROOMS,
};

/// A connection of this node.
pub type ConnId = u64;

/// Something that happened somewhere in the deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Event {
    /// Said in a room (already stored, with its id).
    Message(ChatMessage),
    /// A direct message.
    Dm(DirectMessage),
    /// A connection entered a room.
    Join(Presence),
    /// A connection left a room.
    Leave(Presence),
}

/// One connection's presence in one room.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Presence {
    /// The room.
    pub room: String,
    /// The connection's name.
    pub name: String,
    /// `NODE/CONN`: unique in the deployment.
    pub key: String,
}

/// This node's connections and its view of every room.
pub struct Hub {
    node: String,
    next_conn: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conns: HashMap<ConnId, Local>,
    rooms: BTreeMap<String, Room>,
}

struct Local {
    name: Option<String>,
    rooms: BTreeSet<String>,
    outbox: Arc<Outbox>,
}

#[derive(Default)]
struct Room {
    /// This node's connections in the room: who gets its messages.
    members: HashSet<ConnId>,
    /// Presence key to name, for every node.
    entries: HashMap<String, String>,
    /// Name to its number of entries: the online list.
    names: BTreeMap<String, usize>,
    /// When a join or leave event last changed an entry. A read of the shared store issued
    /// before that is older than the event and must not undo it: a join's entry missing from
    /// it, or a leave's still in it, is the read's age, not news.
    changed: HashMap<String, Instant>,
}

impl Room {
    /// Adds an entry; true if its name was not online here before.
    fn add(&mut self, key: &str, name: &str) -> bool {
        if self.entries.contains_key(key) {
            return false;
        }
        self.entries.insert(key.to_owned(), name.to_owned());
        let count = self.names.entry(name.to_owned()).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Removes an entry; its name if that was its last entry.
    fn remove(&mut self, key: &str) -> Option<String> {
        let name = self.entries.remove(key)?;
        let count = self.names.get_mut(&name)?;
        *count -= 1;
        if *count == 0 {
            self.names.remove(&name);
            Some(name)
        } else {
            None
        }
    }

    fn is_idle(&self, room: &str) -> bool {
        self.members.is_empty()
            && self.entries.is_empty()
            && self.changed.is_empty()
            && !DEFAULT_ROOMS.contains(&room)
    }
}

impl Hub {
    /// A hub for the node called `node`.
    pub fn new(node: String) -> Hub {
        let mut state = State::default();
        for room in DEFAULT_ROOMS {
            state.rooms.insert(room.to_owned(), Room::default());
        }
        Hub {
            node,
            next_conn: AtomicU64::new(1),
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The presence key of a connection of this node.
    pub fn key(&self, conn: ConnId) -> String {
        format!("{}/{conn}", self.node)
    }

    /// Whether a presence key is one of this node's.
    pub fn is_own(&self, key: &str) -> bool {
        key.strip_prefix(self.node.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Registers a connection: it gets the lobby's joins and leaves until it joins a room.
    pub fn connect(&self) -> (ConnId, Arc<Outbox>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let outbox = Arc::new(Outbox::default());
        self.lock().conns.insert(
            id,
            Local {
                name: None,
                rooms: BTreeSet::new(),
                outbox: Arc::clone(&outbox),
            },
        );
        (id, outbox)
    }

    /// Forgets a connection; the rooms it was in, whose leaves the caller announces.
    pub fn disconnect(&self, conn: ConnId) -> Vec<String> {
        let mut state = self.lock();
        let Some(local) = state.conns.remove(&conn) else {
            return Vec::new();
        };
        for room in &local.rooms {
            if let Some(r) = state.rooms.get_mut(room) {
                r.members.remove(&conn);
            }
        }
        local.rooms.into_iter().collect()
    }

    /// The connection's name, once it has one.
    pub fn name(&self, conn: ConnId) -> Option<String> {
        self.lock().conns.get(&conn)?.name.clone()
    }

    /// Fixes the connection's name.
    pub fn set_name(&self, conn: ConnId, name: &str) {
        if let Some(local) = self.lock().conns.get_mut(&conn) {
            local.name = Some(name.to_owned());
        }
    }

    /// Whether the connection is in the room.
    pub fn is_member(&self, conn: ConnId, room: &str) -> bool {
        self.lock()
            .conns
            .get(&conn)
            .is_some_and(|local| local.rooms.contains(room))
    }

    /// Puts the connection in a room, so that it gets the room's messages. False if it already
    /// was; an error names the limit it hit.
    pub fn enter(&self, conn: ConnId, room: &str) -> Result<bool, String> {
        let mut state = self.lock();
        let rooms = state.rooms.len();
        let Some(local) = state.conns.get_mut(&conn) else {
            return Ok(false);
        };
        if local.rooms.contains(room) {
            return Ok(false);
        }
        if local.rooms.len() >= MAX_JOINED {
            return Err(format!("a connection can be in at most {MAX_JOINED} rooms"));
        }
        local.rooms.insert(room.to_owned());
        if rooms >= MAX_ROOMS && !state.rooms.contains_key(room) {
            if let Some(local) = state.conns.get_mut(&conn) {
                local.rooms.remove(room);
            }
            return Err(format!(
                "there are already {MAX_ROOMS} rooms; join one of them"
            ));
        }
        state
            .rooms
            .entry(room.to_owned())
            .or_default()
            .members
            .insert(conn);
        Ok(true)
    }

    /// Takes the connection out of a room; false if it was not in it.
    pub fn exit(&self, conn: ConnId, room: &str) -> bool {
        let mut state = self.lock();
        let was = state
            .conns
            .get_mut(&conn)
            .is_some_and(|local| local.rooms.remove(room));
        if let Some(r) = state.rooms.get_mut(room) {
            r.members.remove(&conn);
            if r.is_idle(room) {
                state.rooms.remove(room);
            }
        }
        was
    }

    /// The names online in a room.
    #[cfg(test)]
    pub fn online(&self, room: &str) -> Vec<String> {
        self.lock()
            .rooms
            .get(room)
            .map(|r| r.names.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Queues a room's online list for a connection, with `also` in it (the connection's own
    /// name, whose join may not have been applied yet). Read and queued under one lock, so that
    /// no join or leave notice can be queued between the two and then be undone by a list
    /// older than it.
    pub fn send_online(&self, conn: ConnId, room: &str, also: Option<&str>) {
        let state = self.lock();
        let mut names: Vec<String> = state
            .rooms
            .get(room)
            .map(|r| r.names.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(name) = also
            && let Err(at) = names.binary_search_by(|n| n.as_str().cmp(name))
        {
            names.insert(at, name.to_owned());
        }
        if let Some(local) = state.conns.get(&conn) {
            local
                .outbox
                .push(PreparedFrame::text(protocol::online(room, &names)));
        }
    }

    /// Whether a name is online in any room, on any node.
    pub fn is_online(&self, name: &str) -> bool {
        self.lock()
            .rooms
            .values()
            .any(|r| r.names.contains_key(name))
    }

    /// Every room this node knows, with its number of names online.
    pub fn rooms(&self) -> Vec<(String, usize)> {
        self.lock()
            .rooms
            .iter()
            .map(|(room, r)| (room.clone(), r.names.len()))
            .collect()
    }

    /// Queues a frame for one connection.
    pub fn send_to(&self, conn: ConnId, text: String) {
        if let Some(local) = self.lock().conns.get(&conn) {
            local.outbox.push(PreparedFrame::text(text));
        }
    }

    /// Delivers an event to the local connections it concerns.
    pub fn apply(&self, event: &Event) {
        let mut state = self.lock();
        match event {
            Event::Message(m) => {
                let frame = shared_frame(protocol::message(m));
                state.fan_out(&m.room, &frame, true);
            }
            Event::Dm(m) => {
                let frame = shared_frame(protocol::dm(m));
                for local in state.conns.values() {
                    let name = local.name.as_deref();
                    if name == Some(m.to.as_str()) || name == Some(m.from.as_str()) {
                        local.outbox.push(frame.clone());
                    }
                }
            }
            Event::Join(p) => {
                let r = state.rooms.entry(p.room.clone()).or_default();
                r.changed.insert(p.key.clone(), Instant::now());
                let new = r.add(&p.key, &p.name);
                if new {
                    state.notice("join", &p.room, &p.name);
                }
            }
            Event::Leave(p) => {
                let gone = state.rooms.get_mut(&p.room).and_then(|r| {
                    r.changed.insert(p.key.clone(), Instant::now());
                    r.remove(&p.key)
                });
                if let Some(name) = gone {
                    state.notice("leave", &p.room, &name);
                }
                state.forget_if_idle(&p.room);
            }
        }
    }

    /// Replaces the room's entries of other nodes with `entries` (key to name), as read from the
    /// shared store by a read issued at `read_at`, announcing the names that came and went. This
    /// node's own entries stay as they are (it knows them first-hand), and so do entries a join
    /// or leave event changed after `read_at` (the event is newer than the read).
    pub fn sync_room(&self, room: &str, entries: &HashMap<String, String>, read_at: Instant) {
        let own = format!("{}/", self.node);
        let mut state = self.lock();
        let r = state.rooms.entry(room.to_owned()).or_default();
        let newer = |r: &Room, key: &str| r.changed.get(key).is_some_and(|t| *t >= read_at);
        let stale: Vec<String> = r
            .entries
            .keys()
            .filter(|key| !key.starts_with(&own) && !entries.contains_key(*key) && !newer(r, key))
            .cloned()
            .collect();
        let mut left = Vec::new();
        for key in stale {
            left.extend(r.remove(&key));
        }
        let mut joined = Vec::new();
        for (key, name) in entries {
            if !key.starts_with(&own) && !newer(r, key) && r.add(key, name) {
                joined.push(name.clone());
            }
        }
        // What happened before the read, the read has seen.
        r.changed.retain(|_, t| *t >= read_at);
        for name in left {
            state.notice("leave", room, &name);
        }
        for name in joined {
            state.notice("join", room, &name);
        }
        state.forget_if_idle(room);
    }

    /// This node's presence entries: (room, key, name).
    pub fn own_entries(&self) -> Vec<(String, String, String)> {
        let own = format!("{}/", self.node);
        let state = self.lock();
        let mut out = Vec::new();
        for (room, r) in &state.rooms {
            for (key, name) in &r.entries {
                if key.starts_with(&own) {
                    out.push((room.clone(), key.clone(), name.clone()));
                }
            }
        }
        out
    }

    /// The rooms this node knows.
    pub fn room_names(&self) -> Vec<String> {
        self.lock().rooms.keys().cloned().collect()
    }
}

/// A frame for many members, framed once and, for the members that negotiated
/// permessage-deflate (the extractor's default settings), compressed once: a room's message costs
/// one compression per node, not one per member.
fn shared_frame(json: String) -> PreparedFrame {
    PreparedFrame::text(json).with_compression(&DeflateConfig::default())
}

impl State {
    /// Queues the frame for the room's local members (and, for the lobby, with `watchers`, for
    /// the connections that are in no room yet: a page shows the lobby before a name is chosen).
    fn fan_out(&self, room: &str, frame: &PreparedFrame, watchers: bool) {
        if let Some(r) = self.rooms.get(room) {
            for conn in &r.members {
                if let Some(local) = self.conns.get(conn) {
                    local.outbox.push(frame.clone());
                }
            }
        }
        if watchers && room == LOBBY {
            for local in self.conns.values().filter(|l| l.rooms.is_empty()) {
                local.outbox.push(frame.clone());
            }
        }
    }

    fn notice(&self, kind: &str, room: &str, name: &str) {
        let frame = shared_frame(protocol::presence(kind, room, name));
        self.fan_out(room, &frame, true);
    }

    fn forget_if_idle(&mut self, room: &str) {
        if self.rooms.get(room).is_some_and(|r| r.is_idle(room)) {
            self.rooms.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Pop;

    fn texts(outbox: &Outbox) -> Vec<String> {
        let mut out = Vec::new();
        while let Pop::Frame(frame) = outbox.pop() {
            out.push(String::from_utf8(frame.payload().to_vec()).unwrap());
        }
        out
    }

    fn presence(room: &str, name: &str, key: &str) -> Presence {
        Presence {
            room: room.into(),
            name: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn a_name_is_announced_once_however_many_tabs_it_has() {
        let hub = Hub::new("n1".into());
        let (a, out_a) = hub.connect();
        hub.enter(a, "lobby").unwrap();
        hub.apply(&Event::Join(presence("lobby", "ana", "n1/1")));
        hub.apply(&Event::Join(presence("lobby", "ana", "n1/2")));
        assert_eq!(hub.online("lobby"), ["ana"]);
        hub.apply(&Event::Leave(presence("lobby", "ana", "n1/2")));
        assert_eq!(hub.online("lobby"), ["ana"]);
        hub.apply(&Event::Leave(presence("lobby", "ana", "n1/1")));
        assert!(hub.online("lobby").is_empty());
        let got = texts(&out_a);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains(r#""type":"join""#) && got[1].contains(r#""type":"leave""#));
    }

    #[test]
    fn messages_reach_the_room_only_and_lobby_notices_reach_watchers() {
        let hub = Hub::new("n1".into());
        let (a, out_a) = hub.connect();
        let (b, out_b) = hub.connect();
        let (_watcher, out_w) = hub.connect();
        hub.enter(a, "lobby").unwrap();
        hub.enter(b, "rust").unwrap();
        let m = ChatMessage {
            room: "rust".into(),
            id: 1,
            from: "bo".into(),
            text: "hi".into(),
            ts: 0,
        };
        hub.apply(&Event::Message(m));
        hub.apply(&Event::Join(presence("lobby", "cy", "n2/9")));
        assert!(texts(&out_a).iter().all(|t| !t.contains("message")));
        assert_eq!(texts(&out_b).len(), 1);
        // The watcher watches the lobby: not the rust room's message, but the lobby's join.
        let watched = texts(&out_w);
        assert_eq!(watched.len(), 1);
        assert!(watched[0].contains("cy"));
    }

    #[test]
    fn a_sync_drops_a_dead_nodes_names_and_keeps_our_own() {
        let hub = Hub::new("n1".into());
        let (a, out_a) = hub.connect();
        hub.enter(a, "lobby").unwrap();
        hub.apply(&Event::Join(presence("lobby", "ana", "n1/1")));
        hub.apply(&Event::Join(presence("lobby", "bo", "n2/1")));
        let _ = texts(&out_a);
        // n2 died: its entry expired from the shared store, which has not seen ours yet.
        hub.sync_room("lobby", &HashMap::new(), Instant::now());
        assert_eq!(hub.online("lobby"), ["ana"]);
        let got = texts(&out_a);
        assert_eq!(got, [protocol::presence("leave", "lobby", "bo")]);
    }

    #[test]
    fn a_read_older_than_an_event_does_not_undo_it() {
        let hub = Hub::new("n1".into());
        let (a, out_a) = hub.connect();
        hub.enter(a, "lobby").unwrap();
        hub.apply(&Event::Join(presence("lobby", "cy", "n2/2")));
        // A read is issued; then bo's join and cy's leave arrive; then the read's answer,
        // which has cy and not bo.
        let issued = Instant::now();
        hub.apply(&Event::Join(presence("lobby", "bo", "n2/1")));
        hub.apply(&Event::Leave(presence("lobby", "cy", "n2/2")));
        let _ = texts(&out_a);
        let read: HashMap<String, String> = [("n2/2".to_owned(), "cy".to_owned())].into();
        hub.sync_room("lobby", &read, issued);
        assert_eq!(hub.online("lobby"), ["bo"]);
        assert!(
            texts(&out_a).is_empty(),
            "no false leave of bo, no false join of cy"
        );
        // A read issued after the events is believed.
        hub.sync_room("lobby", &HashMap::new(), Instant::now());
        assert!(hub.online("lobby").is_empty());
    }

    #[test]
    fn direct_messages_reach_both_ends_only() {
        let hub = Hub::new("n1".into());
        let (a, out_a) = hub.connect();
        let (b, out_b) = hub.connect();
        let (c, out_c) = hub.connect();
        hub.set_name(a, "ana");
        hub.set_name(b, "bo");
        hub.set_name(c, "cy");
        hub.apply(&Event::Dm(DirectMessage {
            from: "ana".into(),
            to: "bo".into(),
            text: "psst".into(),
            ts: 0,
        }));
        assert_eq!(texts(&out_a).len(), 1);
        assert_eq!(texts(&out_b).len(), 1);
        assert!(texts(&out_c).is_empty());
    }

    #[test]
    fn rooms_are_bounded() {
        let hub = Hub::new("n1".into());
        let (a, _) = hub.connect();
        for i in 0..MAX_JOINED {
            assert_eq!(hub.enter(a, &format!("r{i}")), Ok(true));
        }
        assert!(hub.enter(a, "one-more").unwrap_err().contains("16"));
        let mut refused = None;
        for i in 0..MAX_ROOMS {
            let (c, _) = hub.connect();
            if let Err(e) = hub.enter(c, &format!("x{i}")) {
                refused = Some(e);
                break;
            }
        }
        assert!(refused.is_some_and(|e| e.contains("256")));
    }
}
