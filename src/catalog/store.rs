//! The catalogue in SQLite. One type owns the connection: it opens the file,
//! sets WAL, a busy timeout and foreign keys, runs the numbered migrations
//! (an append-only list; `PRAGMA user_version` counts those applied), and
//! exposes typed queries. Writes go in short transactions so that two `gen`
//! processes can share the file and a killed one leaves it consistent.
//!
//! Identity: a row is a file path; a file that vanishes keeps its row
//! (inactive); a file that reappears elsewhere with the same SHA-256 takes
//! over the inactive row, so its id and everything attached to it survive.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

use super::scan::FileStat;
use super::{Base, CatalogEntry, Category, Format, Kind, Probe};
use crate::error::GenError;

/// Every schema change, in order. Append only: never edit a released entry.
/// Other rooms' tables live in the same file; their migrations are listed
/// here so that one `user_version` counts them all.
fn migrations() -> Vec<&'static str> {
    let mut all = vec![ENTRIES, MODEL_INFO];
    all.extend_from_slice(crate::presets::db::MIGRATIONS);
    all
}

/// 1: the files.
const ENTRIES: &str = "CREATE TABLE entries (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        category    TEXT NOT NULL,
        format      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        base        TEXT NOT NULL,
        precision   TEXT,
        params      INTEGER,
        prediction  TEXT,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        inode       INTEGER NOT NULL,
        dev         INTEGER NOT NULL,
        sha256      TEXT,
        autov2      TEXT,
        autov3      TEXT,
        metadata    TEXT,
        reasons     TEXT NOT NULL DEFAULT '[]',
        error       TEXT,
        active      INTEGER NOT NULL DEFAULT 1,
        first_seen  INTEGER NOT NULL,
        indexed_at  INTEGER NOT NULL
    );
    CREATE INDEX entries_sha256 ON entries(sha256);
    CREATE INDEX entries_autov2 ON entries(autov2);
    CREATE INDEX entries_autov3 ON entries(autov3);
    CREATE INDEX entries_name ON entries(name COLLATE NOCASE);
    CREATE INDEX entries_kind_base ON entries(kind, base);";

/// 2: what sidecars and CivitAI know, by content (so it follows a moved
/// file). `info` is the normalised ModelInfo as JSON; the columns beside
/// it are what queries need; `lookup_*` is the last CivitAI lookup.
const MODEL_INFO: &str = "CREATE TABLE model_info (
        sha256        TEXT PRIMARY KEY,
        source        TEXT NOT NULL,
        status        TEXT NOT NULL,
        reason        TEXT,
        fetched_at    INTEGER NOT NULL,
        sidecar_path  TEXT,
        sidecar_mtime INTEGER,
        model_id      INTEGER,
        version_id    INTEGER,
        base          TEXT,
        info          TEXT NOT NULL,
        raw           TEXT,
        raw_model     TEXT,
        lookup_status TEXT,
        lookup_reason TEXT,
        looked_up_at  INTEGER
    );
    CREATE INDEX model_info_model ON model_info(model_id);
    CREATE INDEX model_info_lookup ON model_info(lookup_status, looked_up_at);";

/// The stat facts and identity of a stored file, for deciding what to re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: i64,
    pub stat: FileStat,
    pub active: bool,
    pub hashed: bool,
}

/// A file fully read: what to write.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    pub path: String,
    pub name: String,
    pub category: Category,
    pub stat: FileStat,
    pub probe: Probe,
    pub sha256: Option<String>,
    pub autov2: Option<String>,
    pub autov3: Option<String>,
    /// An error met while hashing (the probe's own error is in `probe`).
    pub hash_error: Option<String>,
}

/// What writing one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    Changed,
    /// Took over the inactive row of a vanished file with the same hash.
    Moved,
}

/// Filters for `gen models list`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub kind: Option<Kind>,
    pub base: Option<Base>,
    pub include_inactive: bool,
}

pub struct Store {
    conn: Connection,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the catalogue at `path` and migrates it.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the catalogue folder {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the catalogue {}", path.display()))?;
        Self::setup(conn, Some(path))
            .with_context(|| format!("cannot use the catalogue {}", path.display()))
    }

    /// An in-memory catalogue, for tests.
    pub fn in_memory() -> anyhow::Result<Store> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    fn setup(mut conn: Connection, path: Option<&Path>) -> anyhow::Result<Store> {
        conn.busy_timeout(Duration::from_secs(60))?;
        // WAL lets readers go on while one process writes; NORMAL sync is
        // safe under WAL (a power cut may lose the last commit, never corrupt).
        // Switching a new file to WAL, or reading while another process does,
        // can answer "locked" without waiting: that is retried.
        let version: i64 = retry_locked(|| {
            let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
            conn.pragma_query_value(None, "user_version", |r| r.get(0))
        })?;
        if (version as usize) < migrations().len() {
            // Two processes opening a new or old catalogue at once would both
            // read the old version and both migrate; a lock file beside the
            // catalogue makes the second wait and then find nothing to do.
            let _lock = match path {
                Some(p) => Some(lock_beside(p)?),
                None => None,
            };
            migrate(&mut conn)?;
        }
        Ok(Store { conn })
    }

    /// The connection, for other rooms' tables (presets) that live in the
    /// same file and whose migrations are in this file's list.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Every stored file by path.
    pub fn stored_files(&self) -> anyhow::Result<HashMap<String, StoredFile>> {
        let mut stmt = self.conn.prepare(
            "SELECT path, id, size, mtime_ns, inode, dev, active, sha256 IS NOT NULL FROM entries",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                StoredFile {
                    id: r.get(1)?,
                    stat: FileStat {
                        size: r.get::<_, i64>(2)? as u64,
                        mtime_ns: r.get(3)?,
                        inode: r.get::<_, i64>(4)? as u64,
                        dev: r.get::<_, i64>(5)? as u64,
                    },
                    active: r.get(6)?,
                    hashed: r.get(7)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks rows active or inactive, in one transaction.
    pub fn set_active(&mut self, ids: &[i64], active: bool) -> anyhow::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare("UPDATE entries SET active = ?1 WHERE id = ?2")?;
            for id in ids {
                stmt.execute(params![active, id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes a batch of read files in one transaction.
    pub fn write_batch(&mut self, files: &[IndexedFile]) -> anyhow::Result<Vec<Written>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut done = Vec::with_capacity(files.len());
        for f in files {
            done.push(write_one(&tx, f)?);
        }
        tx.commit()?;
        Ok(done)
    }

    pub fn list(&self, filter: &ListFilter) -> anyhow::Result<Vec<CatalogEntry>> {
        let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        if !filter.include_inactive {
            sql.push_str(" AND active = 1");
        }
        if let Some(kind) = filter.kind {
            args.push(kind.as_str().to_string());
            sql.push_str(&format!(" AND kind = ?{}", args.len()));
        }
        if let Some(base) = filter.base {
            args.push(base.as_str().to_string());
            sql.push_str(&format!(" AND base = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY kind, base, name COLLATE NOCASE, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get(&self, id: i64) -> anyhow::Result<Option<CatalogEntry>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?1"),
                [id],
                entry_from_row,
            )
            .optional()?)
    }

    /// Finds one model by id, path, hash (SHA-256, AutoV2, AutoV3, or a
    /// prefix of 8+ hex digits) or name (case-insensitive, active first).
    /// Several different files matching is a usage error listing them.
    pub fn find(&self, query: &str) -> anyhow::Result<Option<CatalogEntry>> {
        let q = query.trim();
        if let Ok(id) = q.parse::<i64>()
            && let Some(e) = self.get(id)?
        {
            return Ok(Some(e));
        }
        let lower = q.to_ascii_lowercase();
        let is_hex = lower.len() >= 8 && lower.chars().all(|c| c.is_ascii_hexdigit());
        let query = |sql: &str, arg: &str| -> anyhow::Result<Vec<CatalogEntry>> {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entries WHERE {sql} ORDER BY active DESC, id"
            ))?;
            let rows = stmt.query_map([arg], entry_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let mut candidates = query("path = ?1", q)?;
        if candidates.is_empty() && is_hex {
            candidates = query("sha256 LIKE ?1 || '%' OR autov3 = ?1", &lower)?;
        }
        if candidates.is_empty() {
            candidates = query("name = ?1 COLLATE NOCASE", q)?;
        }
        // The same file may appear as an active row and as inactive history:
        // prefer active rows; several active files are ambiguous.
        let active: Vec<&CatalogEntry> = candidates.iter().filter(|e| e.active).collect();
        let pool: Vec<&CatalogEntry> = if active.is_empty() {
            candidates.iter().collect()
        } else {
            active
        };
        let distinct: std::collections::BTreeSet<&str> = pool
            .iter()
            .map(|e| e.sha256.as_deref().unwrap_or(e.path.as_str()))
            .collect();
        if distinct.len() > 1 {
            let listing: Vec<String> = pool
                .iter()
                .map(|e| format!("  {} {}", e.id, e.path))
                .collect();
            return Err(GenError::usage(format!(
                "'{q}' matches several models:\n{}",
                listing.join("\n")
            ))
            .with_hint("give the id or the full path")
            .into());
        }
        Ok(pool.first().map(|e| (*e).clone()))
    }

    /// Counts of active entries by (kind, base).
    pub fn counts(&self) -> anyhow::Result<Vec<(Kind, Base, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, base, COUNT(*) FROM entries WHERE active = 1 GROUP BY kind, base ORDER BY kind, base",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                parse_col::<Kind>(r, 0)?,
                parse_col::<Base>(r, 1)?,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// (path, error, format) of every active file that could not be used.
    pub fn problems(&self) -> anyhow::Result<Vec<(String, String, Format)>> {
        let mut stmt = self.conn.prepare(
            "SELECT path, error, format FROM entries WHERE active = 1 AND error IS NOT NULL ORDER BY path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, parse_col::<Format>(r, 2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// SQLite's own consistency check ("ok" when sound).
    pub fn integrity_check(&self) -> anyhow::Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Runs `f` again while SQLite answers BUSY or LOCKED without having
/// waited (which it does for some lock changes), for up to about a minute.
fn retry_locked<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut delay = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    loop {
        match f() {
            Err(e)
                if waited < Duration::from_secs(60)
                    && matches!(
                        e.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    ) =>
            {
                std::thread::sleep(delay);
                waited += delay;
                delay = (delay * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// An exclusive lock on `<catalogue>.lock`, released when dropped.
fn lock_beside(db: &Path) -> anyhow::Result<std::fs::File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .with_context(|| format!("cannot create {}", Path::new(&name).display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", Path::new(&name).display()))?;
    Ok(file)
}

/// Applies pending migrations. Two processes may open a new catalogue at
/// once; SQLite then refuses one writer with BUSY, which is retried.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let migrations = Migrations::new(migrations().into_iter().map(M::up).collect());
    let mut delay = Duration::from_millis(20);
    for attempt in 0.. {
        match migrations.to_latest(conn) {
            Ok(()) => return Ok(()),
            Err(rusqlite_migration::Error::RusqliteError { err, .. })
                if attempt < 50
                    && err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(rusqlite_migration::Error::MigrationDefinition(
                rusqlite_migration::MigrationDefinitionError::DatabaseTooFarAhead,
            )) => {
                return Err(GenError::failed(
                    "the catalogue was written by a newer version of gen; this version cannot use it",
                )
                .with_hint("upgrade gen, or point --db at another file")
                .into());
            }
            Err(e) => return Err(e).context("cannot migrate the catalogue"),
        }
    }
    unreachable!("the loop returns")
}

fn write_one(tx: &rusqlite::Transaction<'_>, f: &IndexedFile) -> anyhow::Result<Written> {
    let t = now();
    let error = f.probe.error.clone().or_else(|| f.hash_error.clone());
    let metadata = f
        .probe
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let reasons = serde_json::to_string(&f.probe.reasons)?;
    let existing: Option<i64> = tx
        .query_row("SELECT id FROM entries WHERE path = ?1", [&f.path], |r| {
            r.get(0)
        })
        .optional()?;
    let (id, written) = match existing {
        Some(id) => (id, Written::Changed),
        None => {
            let moved: Option<i64> = match &f.sha256 {
                Some(sha) => tx
                    .query_row(
                        "SELECT id FROM entries WHERE sha256 = ?1 AND active = 0 ORDER BY indexed_at DESC LIMIT 1",
                        [sha],
                        |r| r.get(0),
                    )
                    .optional()?,
                None => None,
            };
            match moved {
                Some(id) => {
                    tx.execute(
                        "UPDATE entries SET path = ?1 WHERE id = ?2",
                        params![f.path, id],
                    )?;
                    (id, Written::Moved)
                }
                None => {
                    tx.execute(
                        "INSERT INTO entries (path, name, category, format, kind, base, size, mtime_ns, inode, dev, first_seen, indexed_at)
                         VALUES (?1, ?2, ?3, '', '', '', 0, 0, 0, 0, ?4, ?4)",
                        params![f.path, f.name, f.category.as_str(), t],
                    )?;
                    (tx.last_insert_rowid(), Written::New)
                }
            }
        }
    };
    tx.execute(
        "UPDATE entries SET name = ?2, category = ?3, format = ?4, kind = ?5, base = ?6, precision = ?7,
            params = ?8, prediction = ?9, size = ?10, mtime_ns = ?11, inode = ?12, dev = ?13, sha256 = ?14,
            autov2 = ?15, autov3 = ?16, metadata = ?17, reasons = ?18, error = ?19, active = 1, indexed_at = ?20
         WHERE id = ?1",
        params![
            id,
            f.name,
            f.category.as_str(),
            f.probe.format.as_str(),
            f.probe.kind.as_str(),
            f.probe.base.as_str(),
            f.probe.precision,
            f.probe.params.map(|p| p as i64),
            f.probe.prediction,
            f.stat.size as i64,
            f.stat.mtime_ns,
            f.stat.inode as i64,
            f.stat.dev as i64,
            f.sha256,
            f.autov2,
            f.autov3,
            metadata,
            reasons,
            error,
            t
        ],
    )?;
    Ok(written)
}

const ENTRY_COLUMNS: &str = "id, name, path, category, kind, base, sha256, autov2, autov3, size, format, precision, \
     params, prediction, active, error, reasons, metadata, indexed_at";

fn parse_col<T: std::str::FromStr<Err = String>>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    s.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<CatalogEntry> {
    let reasons: String = r.get(16)?;
    let metadata: Option<String> = r.get(17)?;
    Ok(CatalogEntry {
        id: r.get(0)?,
        name: r.get(1)?,
        path: r.get(2)?,
        category: parse_col(r, 3)?,
        kind: parse_col(r, 4)?,
        base: parse_col(r, 5)?,
        sha256: r.get(6)?,
        autov2: r.get(7)?,
        autov3: r.get(8)?,
        size: r.get::<_, i64>(9)? as u64,
        format: parse_col::<Format>(r, 10)?,
        precision: r.get(11)?,
        params: r.get::<_, Option<i64>>(12)?.map(|p| p as u64),
        prediction: r.get(13)?,
        active: r.get(14)?,
        error: r.get(15)?,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
        indexed_at: r.get(18)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, sha: &str, kind: Kind) -> IndexedFile {
        let mut probe = Probe::failed(Format::Safetensors, Category::Loras, "x");
        probe.error = None;
        probe.kind = kind;
        probe.base = Base::Sdxl;
        IndexedFile {
            path: path.into(),
            name: Path::new(path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into(),
            category: Category::Loras,
            stat: FileStat {
                size: 10,
                mtime_ns: 1,
                inode: 2,
                dev: 3,
            },
            probe,
            sha256: Some(sha.into()),
            autov2: Some(sha[..10].into()),
            autov3: None,
            hash_error: None,
        }
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("sub/catalog.sqlite");
        drop(Store::open(&db).unwrap());
        let s = Store::open(&db).unwrap();
        let v: i64 = s
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, migrations().len());
    }

    #[test]
    fn a_moved_file_keeps_its_row() {
        let mut s = Store::in_memory().unwrap();
        let sha = "ab".repeat(32);
        assert_eq!(
            s.write_batch(&[file("/m/loras/a.safetensors", &sha, Kind::Lora)])
                .unwrap(),
            vec![Written::New]
        );
        let id = s.stored_files().unwrap()["/m/loras/a.safetensors"].id;
        s.set_active(&[id], false).unwrap();
        let w = s
            .write_batch(&[file("/m/loras/new/a.safetensors", &sha, Kind::Lora)])
            .unwrap();
        assert_eq!(w, vec![Written::Moved]);
        let e = s.find("/m/loras/new/a.safetensors").unwrap().unwrap();
        assert_eq!((e.id, e.active), (id, true));
        assert!(s.find("/m/loras/a.safetensors").unwrap().is_none());
    }

    #[test]
    fn find_by_hash_name_and_ambiguity() {
        let mut s = Store::in_memory().unwrap();
        s.write_batch(&[
            file("/m/a/x.safetensors", &"12".repeat(32), Kind::Lora),
            file("/m/b/x.safetensors", &"34".repeat(32), Kind::Lora),
            file("/m/b/y.safetensors", &"56".repeat(32), Kind::Lora),
        ])
        .unwrap();
        assert_eq!(
            s.find("1212121212").unwrap().unwrap().path,
            "/m/a/x.safetensors"
        );
        assert_eq!(
            s.find(&"56".repeat(32).to_uppercase())
                .unwrap()
                .unwrap()
                .name,
            "y"
        );
        assert_eq!(s.find("Y").unwrap().unwrap().name, "y");
        let err = s.find("x").unwrap_err();
        assert_eq!(crate::error::status_of(&err).0, crate::error::Status::Usage);
        assert!(s.find("nothing-here").unwrap().is_none());
        let list = s
            .list(&ListFilter {
                kind: Some(Kind::Lora),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(s.counts().unwrap(), vec![(Kind::Lora, Base::Sdxl, 3)]);
    }
}
