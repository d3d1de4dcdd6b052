//! The `model_info` table: what sidecars and CivitAI know about a file, keyed
//! by its SHA-256 so it follows the content through moves and copies.
//!
//! Each write is one short IMMEDIATE transaction that reads the row, applies
//! the merge rule of `metadata` and writes the result, so two `gen index`
//! runs at once cannot interleave a read and a write.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;

use super::metadata::{InfoSource, LookupStatus, ModelInfo, merge_lookup, merge_sidecar};
use super::store::Store;

/// The columns of a stored record that decide whether a sidecar is read
/// again, without parsing its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoState {
    pub source: InfoSource,
    pub status: LookupStatus,
    pub fetched_at: i64,
    pub sidecar_mtime: Option<i64>,
}

/// An active, hashed file: where it is and what it hashes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedFile {
    pub path: String,
    pub sha256: String,
}

impl Store {
    /// What is known about the file with this SHA-256 (lower-case hex).
    pub fn model_info(&self, sha256: &str) -> anyhow::Result<Option<ModelInfo>> {
        read_info(self.conn(), sha256)
    }

    /// Everything known, by SHA-256: for choosing among many files at once.
    pub fn model_infos(&self) -> anyhow::Result<HashMap<String, ModelInfo>> {
        let mut stmt = self.conn().prepare("SELECT sha256, info FROM model_info")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (sha, text) = row?;
            // A row this version cannot read is skipped, not fatal.
            if let Ok(info) = serde_json::from_str::<ModelInfo>(&text) {
                out.insert(sha, info);
            }
        }
        Ok(out)
    }

    /// [`InfoState`] by SHA-256, for every record.
    pub fn info_states(&self) -> anyhow::Result<HashMap<String, InfoState>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT sha256, source, status, fetched_at, sidecar_mtime FROM model_info")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (sha, source, status, fetched_at, sidecar_mtime) = row?;
            if let (Some(source), Some(status)) =
                (InfoSource::parse(&source), LookupStatus::parse(&status))
            {
                out.insert(
                    sha,
                    InfoState {
                        source,
                        status,
                        fetched_at,
                        sidecar_mtime,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The raw JSON kept for a file: the sidecar or by-hash answer, and the
    /// `/api/v1/models/{id}` answer.
    pub fn model_info_raw(
        &self,
        sha256: &str,
    ) -> anyhow::Result<Option<(Option<Value>, Option<Value>)>> {
        let row: Option<(Option<String>, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT raw, raw_model FROM model_info WHERE sha256 = ?1",
                [sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
        Ok(row.map(|(a, b)| (parse(a), parse(b))))
    }

    /// Writes a record as is, replacing what was there.
    pub fn save_model_info(
        &self,
        sha256: &str,
        info: &ModelInfo,
        raw: Option<&Value>,
        raw_model: Option<&Value>,
    ) -> anyhow::Result<()> {
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        write_info(&tx, sha256, info, raw, raw_model)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores what a sidecar says unless what is stored wins (see
    /// `metadata::merge_sidecar`). Returns whether it was stored.
    pub fn import_sidecar_info(
        &self,
        sha256: &str,
        info: ModelInfo,
        raw: Option<&Value>,
    ) -> anyhow::Result<bool> {
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let old = read_info(&tx, sha256)?;
        let Some(merged) = merge_sidecar(old.as_ref(), info) else {
            return Ok(false);
        };
        write_info(&tx, sha256, &merged, raw, None)?;
        tx.commit()?;
        Ok(true)
    }

    /// Stores the outcome of a CivitAI lookup (see `metadata::merge_lookup`)
    /// and returns what is now stored.
    pub fn record_lookup(
        &self,
        sha256: &str,
        fresh: ModelInfo,
        raw: Option<&Value>,
        raw_model: Option<&Value>,
    ) -> anyhow::Result<ModelInfo> {
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let old = read_info(&tx, sha256)?;
        let replaced = fresh.status == LookupStatus::Found
            || old.as_ref().is_none_or(|o| o.status != LookupStatus::Found);
        let merged = merge_lookup(old.as_ref(), fresh);
        if replaced {
            write_info(&tx, sha256, &merged, raw, raw_model)?;
        } else {
            // Only the lookup changed: the raw JSON of the kept record stays.
            tx.execute(
                "UPDATE model_info SET info = ?2, lookup_status = ?3, lookup_reason = ?4, looked_up_at = ?5
                 WHERE sha256 = ?1",
                params![
                    sha256,
                    serde_json::to_string(&merged)?,
                    merged.lookup.as_ref().map(|l| l.status.as_str()),
                    merged.lookup.as_ref().and_then(|l| l.reason.clone()),
                    merged.lookup.as_ref().map(|l| l.at),
                ],
            )?;
        }
        tx.commit()?;
        Ok(merged)
    }

    /// SHA-256s of active files to ask CivitAI about: never asked, failed
    /// last time, not found longer ago than `ttl_secs`, or all with `refresh`.
    pub fn lookups_due(
        &self,
        now: i64,
        ttl_secs: i64,
        refresh: bool,
    ) -> anyhow::Result<Vec<String>> {
        let mut stmt = self.conn().prepare(
            "SELECT e.sha256 FROM entries e LEFT JOIN model_info m ON m.sha256 = e.sha256
             WHERE e.active = 1 AND e.sha256 IS NOT NULL AND (
                 ?1 OR m.lookup_status IS NULL OR m.lookup_status = 'failed'
                 OR (m.lookup_status = 'not_found' AND m.looked_up_at + ?2 <= ?3))
             GROUP BY e.sha256 ORDER BY MIN(e.id)",
        )?;
        let rows = stmt.query_map(params![refresh, ttl_secs, now], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every active file with a hash, for the sidecar import.
    pub fn hashed_files(&self) -> anyhow::Result<Vec<HashedFile>> {
        let mut stmt = self.conn().prepare(
            "SELECT path, sha256 FROM entries WHERE active = 1 AND sha256 IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HashedFile {
                path: r.get(0)?,
                sha256: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn read_info(conn: &Connection, sha256: &str) -> anyhow::Result<Option<ModelInfo>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT info FROM model_info WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn write_info(
    conn: &Connection,
    sha256: &str,
    info: &ModelInfo,
    raw: Option<&Value>,
    raw_model: Option<&Value>,
) -> anyhow::Result<()> {
    let lookup = info.lookup.as_ref();
    conn.execute(
        "INSERT INTO model_info (sha256, source, status, reason, fetched_at, sidecar_path, sidecar_mtime,
             model_id, version_id, base, info, raw, raw_model, lookup_status, lookup_reason, looked_up_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT(sha256) DO UPDATE SET source = ?2, status = ?3, reason = ?4, fetched_at = ?5,
             sidecar_path = ?6, sidecar_mtime = ?7, model_id = ?8, version_id = ?9, base = ?10, info = ?11,
             raw = ?12, raw_model = ?13, lookup_status = ?14, lookup_reason = ?15, looked_up_at = ?16",
        params![
            sha256,
            info.source.as_str(),
            info.status.as_str(),
            info.reason,
            info.fetched_at,
            info.sidecar,
            info.sidecar_mtime,
            info.model_id.map(|v| v as i64),
            info.version_id.map(|v| v as i64),
            info.base,
            serde_json::to_string(info)?,
            raw.map(serde_json::to_string).transpose()?,
            raw_model.map(serde_json::to_string).transpose()?,
            lookup.map(|l| l.status.as_str()),
            lookup.and_then(|l| l.reason.clone()),
            lookup.map(|l| l.at),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::metadata::Lookup;
    use crate::catalog::store::IndexedFile;
    use crate::catalog::{Base, Category, Format, Kind, Probe};

    fn add_file(s: &mut Store, path: &str, sha: &str) {
        let mut probe = Probe::failed(Format::Safetensors, Category::Loras, "x");
        probe.error = None;
        probe.kind = Kind::Lora;
        probe.base = Base::Sdxl;
        s.write_batch(&[IndexedFile {
            path: path.into(),
            name: "x".into(),
            category: Category::Loras,
            stat: crate::catalog::scan::FileStat {
                size: 1,
                mtime_ns: 1,
                inode: 1,
                dev: 1,
            },
            probe,
            sha256: Some(sha.into()),
            autov2: None,
            autov3: None,
            hash_error: None,
        }])
        .unwrap();
    }

    fn found(at: i64) -> ModelInfo {
        let mut i = ModelInfo::empty(InfoSource::Civitai, LookupStatus::Found, at);
        i.model_id = Some(1);
        i.lookup = Some(Lookup {
            status: LookupStatus::Found,
            reason: None,
            at,
        });
        i
    }

    #[test]
    fn lookups_are_due_by_status_and_ttl() {
        let mut s = Store::in_memory().unwrap();
        let (a, b, c, d) = (
            "a".repeat(64),
            "b".repeat(64),
            "c".repeat(64),
            "d".repeat(64),
        );
        for (p, h) in [("/a", &a), ("/b", &b), ("/c", &c), ("/d", &d), ("/a2", &a)] {
            add_file(&mut s, p, h);
        }
        let t0 = 1_000_000;
        let ttl = 24 * 3600;
        s.record_lookup(&a, found(t0), None, None).unwrap();
        s.record_lookup(
            &b,
            ModelInfo::civitai_miss(LookupStatus::NotFound, "404".into(), t0),
            None,
            None,
        )
        .unwrap();
        s.record_lookup(
            &c,
            ModelInfo::civitai_miss(LookupStatus::Failed, "500".into(), t0),
            None,
            None,
        )
        .unwrap();
        // d never asked; c failed; b not found within the TTL; a found.
        assert_eq!(
            s.lookups_due(t0 + 10, ttl, false).unwrap(),
            vec![c.clone(), d.clone()]
        );
        assert_eq!(s.lookups_due(t0 + ttl - 1, ttl, false).unwrap().len(), 2);
        // A day later (the clock moved, nothing slept) the 404 is asked again.
        assert_eq!(
            s.lookups_due(t0 + ttl, ttl, false).unwrap(),
            vec![b.clone(), c.clone(), d.clone()]
        );
        // --refresh asks about everything, each hash once.
        assert_eq!(
            s.lookups_due(t0, ttl, true).unwrap(),
            vec![a.clone(), b.clone(), c, d]
        );
        assert_eq!(s.model_infos().unwrap().len(), 3);
        let st = &s.info_states().unwrap()[&b];
        assert_eq!(
            (st.source, st.status, st.fetched_at),
            (InfoSource::Civitai, LookupStatus::NotFound, t0)
        );
    }

    #[test]
    fn a_miss_keeps_found_data_and_its_raw_json() {
        let s = Store::in_memory().unwrap();
        let sha = "e".repeat(64);
        let raw = serde_json::json!({"id": 5});
        s.record_lookup(&sha, found(10), Some(&raw), None).unwrap();
        let kept = s
            .record_lookup(
                &sha,
                ModelInfo::civitai_miss(LookupStatus::Failed, "HTTP 503".into(), 20),
                None,
                None,
            )
            .unwrap();
        assert_eq!(kept.status, LookupStatus::Found);
        assert_eq!(kept.lookup.as_ref().unwrap().status, LookupStatus::Failed);
        assert_eq!(s.model_info(&sha).unwrap().unwrap(), kept);
        assert_eq!(s.model_info_raw(&sha).unwrap().unwrap().0, Some(raw));
        // An older sidecar does not replace the CivitAI answer.
        let mut side = ModelInfo::empty(InfoSource::CivitaiInfo, LookupStatus::Found, 30);
        side.sidecar_mtime = Some(5);
        assert!(!s.import_sidecar_info(&sha, side.clone(), None).unwrap());
        side.sidecar_mtime = Some(11);
        assert!(s.import_sidecar_info(&sha, side, None).unwrap());
        assert_eq!(
            s.model_info(&sha).unwrap().unwrap().source,
            InfoSource::CivitaiInfo
        );
    }
}
