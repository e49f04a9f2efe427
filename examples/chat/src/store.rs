//! The history of a single node: SQLite (bundled with the binary), in one file.
//!
//! Every message is committed before it is sent to anyone, in write-ahead-log mode with
//! `synchronous=NORMAL`: a commit is a write to the log, not an fsync, so a crash of the machine
//! may lose the last moments but a crash or a restart of the process loses nothing. The ids are
//! SQLite's `AUTOINCREMENT` row ids, so they keep growing across restarts and are never reused.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, params};

use crate::protocol::ChatMessage;

/// The SQLite history.
#[derive(Clone)]
pub struct Sqlite {
    db: Arc<Mutex<Connection>>,
}

impl Sqlite {
    /// Opens (or creates) the file.
    pub fn open(path: &Path) -> rusqlite::Result<Sqlite> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 room TEXT NOT NULL,
                 sender TEXT NOT NULL,
                 text TEXT NOT NULL,
                 ts INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room, id);",
        )?;
        Ok(Sqlite {
            db: Arc::new(Mutex::new(db)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a message and, still in order with every other append, hands it with its id to
    /// `then` (which delivers it): ids and delivery order agree.
    pub fn append(
        &self,
        room: &str,
        from: &str,
        text: &str,
        ts: i64,
        then: impl FnOnce(&ChatMessage),
    ) -> rusqlite::Result<ChatMessage> {
        let db = self.lock();
        db.prepare_cached("INSERT INTO messages (room, sender, text, ts) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![room, from, text, ts])?;
        let message = ChatMessage {
            room: room.to_owned(),
            id: db.last_insert_rowid(),
            from: from.to_owned(),
            text: text.to_owned(),
            ts,
        };
        then(&message);
        Ok(message)
    }

    /// The last `limit` messages of a room, oldest first.
    pub fn recent(&self, room: &str, limit: usize) -> rusqlite::Result<Vec<ChatMessage>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(
            "SELECT id, sender, text, ts FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let mut out = rows(&mut stmt, room, params![room, limit as i64])?;
        out.reverse();
        Ok(out)
    }

    /// Up to `limit` messages of a room after `after`, oldest first.
    pub fn after(
        &self,
        room: &str,
        after: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<ChatMessage>> {
        let db = self.lock();
        let mut stmt = db.prepare_cached(
            "SELECT id, sender, text, ts FROM messages WHERE room = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        rows(&mut stmt, room, params![room, after, limit as i64])
    }

    /// Writes the log back into the database file, before the process exits.
    pub fn flush(&self) -> rusqlite::Result<()> {
        self.lock()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
    }
}

fn rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    room: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<ChatMessage>> {
    stmt.query_map(params, |row| {
        Ok(ChatMessage {
            room: room.to_owned(),
            id: row.get(0)?,
            from: row.get(1)?,
            text: row.get(2)?,
            ts: row.get(3)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_survives_a_reopen_and_ids_keep_growing() {
        let dir = std::env::temp_dir().join(format!("chat-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let mut delivered = Vec::new();
        {
            let store = Sqlite::open(&path).unwrap();
            for i in 0..5 {
                store
                    .append("lobby", "ana", &format!("你好 {i}"), i, |m| {
                        delivered.push(m.id)
                    })
                    .unwrap();
            }
            store.append("rust", "bo", "🦀", 9, |_| {}).unwrap();
            store.flush().unwrap();
        }
        let store = Sqlite::open(&path).unwrap();
        let recent = store.recent("lobby", 3).unwrap();
        assert_eq!(
            recent.iter().map(|m| m.id).collect::<Vec<_>>(),
            delivered[2..].to_vec()
        );
        assert_eq!(recent[2].text, "你好 4");
        let after = store.after("lobby", delivered[1], 500).unwrap();
        assert_eq!(after.len(), 3);
        let next = store.append("lobby", "ana", "again", 10, |_| {}).unwrap();
        assert!(next.id > 6, "ids are not reused: {}", next.id);
        assert_eq!(store.after("rust", 0, 500).unwrap()[0].text, "🦀");
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
