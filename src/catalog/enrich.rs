//! The metadata phase of `gen index`, after hashing: import the sidecars
//! already on disk (no network), then ask CivitAI about the files whose
//! lookup is due (in bulk when there are many, then a few at a time),
//! writing each answer as it comes so a killed run keeps what it learnt.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde::Serialize;

use super::civitai::{BULK_MAX, Client, Outcome};
use super::metadata::{Clock, InfoSource, Lookup, LookupStatus, ModelInfo, from_civitai_version};
use super::sidecars;
use super::store::Store;

/// Tells the caller how the lookups go.
pub trait LookupProgress: Sync {
    fn start(&self, _lookups: u64) {}
    fn done(&self, _sha256: &str, _status: LookupStatus) {}
    fn finish(&self) {}
}

/// No progress reporting.
pub struct Quiet;
impl LookupProgress for Quiet {}

/// A file whose metadata could not be had, with why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MetaProblem {
    pub path: String,
    pub error: String,
}

/// What the metadata phase did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetaReport {
    /// Files with a sidecar beside them.
    pub sidecars_seen: usize,
    /// Sidecars whose information was stored this run.
    pub sidecars_imported: usize,
    /// Lookups due (never asked, failed, not found past the TTL, --refresh).
    pub due: usize,
    pub found: usize,
    pub not_found: usize,
    pub failed: usize,
    /// Due lookups not made because of --offline or --no-fetch.
    pub skipped_offline: usize,
    /// Time spent on sidecars and lookups.
    pub seconds: f64,
    pub problems: Vec<MetaProblem>,
}

/// Imports every sidecar that says something new (see
/// `metadata::merge_sidecar`). Sidecar problems are recorded, never fatal.
pub fn import_sidecars(
    store: &Store,
    clock: &dyn Clock,
    report: &mut MetaReport,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let known = store.info_states()?;
    let mut done: HashSet<String> = HashSet::new();
    let mut finder = sidecars::Finder::default();
    for f in store.hashed_files()? {
        let found = finder.find(std::path::Path::new(&f.path));
        if found.is_empty() || done.contains(&f.sha256) {
            continue;
        }
        report.sidecars_seen += 1;
        let newest = found.iter().map(|s| s.mtime).max().unwrap_or(0);
        // Skip the parse when nothing can have changed.
        if let Some(old) = known.get(&f.sha256) {
            let unchanged = match old.source {
                InfoSource::Civitai => {
                    old.status == LookupStatus::Found && newest <= old.fetched_at
                }
                _ => old.sidecar_mtime == Some(newest),
            };
            if unchanged {
                done.insert(f.sha256);
                continue;
            }
        }
        let read = sidecars::read(&found, &f.sha256, clock.now());
        for p in read.problems {
            report.problems.push(MetaProblem {
                path: f.path.clone(),
                error: p.to_string(),
            });
        }
        if let Some(info) = read.info
            && store.import_sidecar_info(&f.sha256, info, read.raw.as_ref())?
        {
            report.sidecars_imported += 1;
        }
        done.insert(f.sha256);
    }
    report.seconds += started.elapsed().as_secs_f64();
    Ok(())
}

/// From this many due lookups on, CivitAI is first asked in bulk (100
/// hashes a request); fewer are asked file by file.
pub const BULK_FROM: usize = 16;

/// Work for the lookup threads.
enum Job {
    /// Ask about this SHA-256 alone.
    Ask(String),
    /// Found in bulk: fetch the model answer (tags) for this version.
    Complete(String, serde_json::Value),
}

/// Stores outcomes as they arrive and counts them.
struct Recorder<'a> {
    store: &'a Store,
    clock: &'a dyn Clock,
    paths: HashMap<String, String>,
    progress: &'a dyn LookupProgress,
    report: &'a mut MetaReport,
}

impl Recorder<'_> {
    fn record(&mut self, sha: &str, outcome: Outcome) -> anyhow::Result<()> {
        let (info, raw, raw_model) = to_info(outcome, self.clock.now());
        match info.lookup.as_ref().map(|l| l.status) {
            Some(LookupStatus::Found) => self.report.found += 1,
            Some(LookupStatus::NotFound) => self.report.not_found += 1,
            _ => {
                self.report.failed += 1;
                self.report.problems.push(MetaProblem {
                    path: self
                        .paths
                        .get(sha)
                        .cloned()
                        .unwrap_or_else(|| sha.to_string()),
                    error: format!(
                        "CivitAI lookup failed: {}",
                        info.reason.as_deref().unwrap_or("no reason")
                    ),
                });
            }
        }
        self.progress.done(sha, info.status);
        self.store
            .record_lookup(sha, info, raw.as_ref(), raw_model.as_ref())?;
        Ok(())
    }
}

/// Asks CivitAI about `due` (lower-case SHA-256s): in bulk first when there
/// are many, then `client.max_in_flight()` at a time; each outcome is
/// stored as it arrives.
pub fn fetch(
    store: &Store,
    client: &Client,
    clock: &dyn Clock,
    due: &[String],
    progress: &dyn LookupProgress,
    report: &mut MetaReport,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths: HashMap<String, String> = store
        .hashed_files()?
        .into_iter()
        .map(|f| (f.sha256, f.path))
        .collect();
    progress.start(due.len() as u64);
    let mut rec = Recorder {
        store,
        clock,
        paths,
        progress,
        report,
    };
    let mut jobs: Vec<Job> = Vec::with_capacity(due.len());
    if due.len() >= BULK_FROM {
        for chunk in due.chunks(BULK_MAX) {
            match client.lookup_bulk(chunk) {
                Ok(mut found) => {
                    for sha in chunk {
                        match found.remove(sha) {
                            Some(v) => jobs.push(Job::Complete(sha.clone(), v)),
                            None => rec.record(
                                sha,
                                Outcome::NotFound(
                                    "CivitAI does not know this file (absent from its bulk answer)"
                                        .into(),
                                ),
                            )?,
                        }
                    }
                }
                // Asked again one by one, which says why for each file.
                Err(_) => jobs.extend(chunk.iter().cloned().map(Job::Ask)),
            }
        }
    } else {
        jobs.extend(due.iter().cloned().map(Job::Ask));
    }

    let next = AtomicUsize::new(0);
    let workers = client.max_in_flight().min(jobs.len());
    let (tx, rx) = mpsc::channel::<(String, Outcome)>();
    let result = std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, jobs) = (&next, &jobs);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let done = match job {
                        Job::Ask(sha) => (sha.clone(), client.lookup(sha)),
                        Job::Complete(sha, v) => (sha.clone(), client.complete(v.clone())),
                    };
                    if tx.send(done).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut result = Ok(());
        for (sha, outcome) in rx {
            if let Err(e) = rec.record(&sha, outcome) {
                // A database error: stop handing out work, keep the first error.
                next.store(usize::MAX / 2, Ordering::SeqCst);
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    });
    progress.finish();
    rec.report.seconds += started.elapsed().as_secs_f64();
    result
}

/// The record for an outcome, with the raw JSON to keep.
fn to_info(
    outcome: Outcome,
    now: i64,
) -> (
    ModelInfo,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
) {
    match outcome {
        Outcome::Found { version, model } => {
            let (model_json, model_error) = match model {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(format!("no tags: {e}"))),
            };
            match from_civitai_version(&version, model_json.as_ref(), InfoSource::Civitai, now) {
                Some(mut info) => {
                    info.reason = model_error.clone();
                    info.lookup = Some(Lookup {
                        status: LookupStatus::Found,
                        reason: model_error,
                        at: now,
                    });
                    (info, Some(version), model_json)
                }
                None => (
                    ModelInfo::civitai_miss(
                        LookupStatus::Failed,
                        "the answer is not a model version".into(),
                        now,
                    ),
                    None,
                    None,
                ),
            }
        }
        Outcome::NotFound(reason) => (
            ModelInfo::civitai_miss(LookupStatus::NotFound, reason, now),
            None,
            None,
        ),
        Outcome::Failed(reason) => (
            ModelInfo::civitai_miss(LookupStatus::Failed, reason, now),
            None,
            None,
        ),
    }
}
