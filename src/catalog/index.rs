//! `gen index` without the printing: walk, decide what changed, probe and
//! hash the new and changed files in parallel, write them in short batches,
//! and mark vanished files inactive.
//!
//! A file whose size, mtime and inode are what the catalogue recorded is not
//! opened at all, which is what makes re-indexing a large library fast. The
//! batches are committed as they come, so a killed run keeps what it did and
//! the next run carries on.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::hash::hash_file;
use super::probe::probe_file;
use super::roots::ModelDir;
use super::scan::{FoundFile, scan};
use super::store::{IndexedFile, Store, Written};

/// Tells the caller how the work goes (the CLI draws a progress bar).
pub trait Progress: Sync {
    /// The total number of bytes to hash is known.
    fn start(&self, _files: u64, _bytes: u64) {}
    /// Some bytes were hashed.
    fn bytes(&self, _n: u64) {}
    /// A file is done.
    fn file_done(&self, _path: &Path) {}
    fn finish(&self) {}
}

/// No progress reporting.
pub struct Silent;
impl Progress for Silent {}

#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Hashing threads; all cores when `None`.
    pub threads: Option<usize>,
}

/// A file that could not be used, with why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub error: String,
    pub format: super::Format,
}

/// What a run did. `hashed_files`/`hashed_bytes` count what was actually read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexReport {
    pub folders: usize,
    pub files: usize,
    pub new: usize,
    pub changed: usize,
    pub moved: usize,
    pub unchanged: usize,
    pub reactivated: usize,
    pub vanished: usize,
    pub hashed_files: usize,
    pub hashed_bytes: u64,
    pub seconds: f64,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

impl IndexReport {
    /// Files that could be indexed: read, hashed and recognised. A pickle
    /// is indexed (listed with its hashes) though gen never loads it; an
    /// empty, truncated, unreadable or unknown file is not.
    pub fn indexed(&self) -> usize {
        let failed = self
            .problems
            .iter()
            .filter(|p| p.format != super::Format::Pickle)
            .count();
        self.files.saturating_sub(failed)
    }
}

/// Rows written per transaction; also written when this much time passed.
const BATCH_FILES: usize = 256;
const BATCH_TIME: Duration = Duration::from_millis(500);

pub fn index(
    store: &mut Store,
    dirs: &[ModelDir],
    opts: &IndexOptions,
    progress: &dyn Progress,
) -> anyhow::Result<IndexReport> {
    let started = Instant::now();
    let mut report = IndexReport {
        folders: dirs.len(),
        ..Default::default()
    };
    let walked = scan(dirs);
    report.warnings = walked.warnings;
    report.files = walked.files.len();
    let stored = store.stored_files()?;

    let mut todo: Vec<FoundFile> = Vec::new();
    let mut reactivate = Vec::new();
    let mut seen: HashSet<&str> = HashSet::with_capacity(walked.files.len());
    for f in &walked.files {
        let Some(path) = f.path.to_str() else {
            report.problems.push(Problem {
                path: f.path.to_string_lossy().into_owned(),
                error: "the file name is not valid UTF-8; rename it to index it".into(),
                format: super::Format::Unknown,
            });
            continue;
        };
        seen.insert(path);
        match stored.get(path) {
            // Unreadable files (never hashed) are tried again every run.
            Some(s) if s.stat == f.stat && s.hashed => {
                report.unchanged += 1;
                if !s.active {
                    reactivate.push(s.id);
                }
            }
            _ => todo.push(f.clone()),
        }
    }
    // Vanished first, so a file moved since the last run finds its old row
    // inactive and takes it over.
    let vanished: Vec<i64> = stored
        .iter()
        .filter(|(path, s)| s.active && !seen.contains(path.as_str()) && is_gone(path, dirs))
        .map(|(_, s)| s.id)
        .collect();
    report.vanished = vanished.len();
    report.reactivated = reactivate.len();
    store.set_active(&vanished, false)?;
    store.set_active(&reactivate, true)?;

    // Big files first: the last thread to finish is then a small file.
    todo.sort_by_key(|f| std::cmp::Reverse(f.stat.size));
    let total: u64 = todo.iter().map(|f| f.stat.size).sum();
    progress.start(todo.len() as u64, total);
    let hashed_bytes = AtomicU64::new(0);
    // Largest first from one shared queue: whichever thread is free takes
    // the next-largest file, so the big ones start early and in parallel
    // (a recursive split of the list would leave one thread with both of
    // the largest files).
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, todo.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<IndexedFile>(BATCH_FILES * 2);
    let write_result = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (todo, next, hashed_bytes) = (&todo, &next, &hashed_bytes);
            scope.spawn(move || {
                while let Some(f) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let done = read_file(f, &|n| {
                        hashed_bytes.fetch_add(n, Ordering::Relaxed);
                        progress.bytes(n);
                    });
                    progress.file_done(&f.path);
                    // The writer only stops on a database error; then the
                    // rest of the work is pointless and dropped.
                    if tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        write_batches(store, rx, &mut report)
    });
    progress.finish();
    write_result?;
    report.hashed_bytes = hashed_bytes.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    let present: HashSet<&Path> = walked.files.iter().map(|f| f.path.as_path()).collect();
    for (path, error, format) in store.problems()? {
        if present.contains(Path::new(&path)) {
            report.problems.push(Problem {
                path,
                error,
                format,
            });
        }
    }
    Ok(report)
}

/// Receives read files and commits them in batches.
fn write_batches(
    store: &mut Store,
    rx: mpsc::Receiver<IndexedFile>,
    report: &mut IndexReport,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(BATCH_FILES);
    let mut last = Instant::now();
    loop {
        let next = rx.recv_timeout(BATCH_TIME);
        let closed = matches!(next, Err(mpsc::RecvTimeoutError::Disconnected));
        if let Ok(f) = next {
            batch.push(f);
        }
        if !batch.is_empty()
            && (closed || batch.len() >= BATCH_FILES || last.elapsed() >= BATCH_TIME)
        {
            for (f, w) in batch.iter().zip(store.write_batch(&batch)?) {
                if f.sha256.is_some() {
                    report.hashed_files += 1;
                }
                match w {
                    Written::New => report.new += 1,
                    Written::Changed => report.changed += 1,
                    Written::Moved => report.moved += 1,
                }
            }
            batch.clear();
            last = Instant::now();
        }
        if closed {
            return Ok(());
        }
    }
}

/// Probes and hashes a file that is not (yet) in the catalogue, as
/// `--model PATH` needs: the entry has id 0. Fails only when the file
/// cannot be found or statted.
pub fn read_path(path: &Path, category: super::Category) -> anyhow::Result<super::CatalogEntry> {
    use anyhow::Context;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let found = FoundFile {
        path,
        category,
        stat: super::scan::FileStat::of(&meta),
    };
    let f = read_file(&found, &|_| {});
    Ok(super::CatalogEntry {
        name: f.name,
        category: f.category,
        sha256: f.sha256,
        autov2: f.autov2,
        autov3: f.autov3,
        size: f.stat.size,
        format: f.probe.format,
        precision: f.probe.precision,
        params: f.probe.params,
        prediction: f.probe.prediction,
        error: f.probe.error.or(f.hash_error),
        reasons: f.probe.reasons,
        metadata: f.probe.metadata,
        ..super::CatalogEntry::new(0, &f.path, f.probe.kind, f.probe.base)
    })
}

/// Probes then hashes one file. Never fails: problems are recorded in the result.
fn read_file(f: &FoundFile, on_bytes: &dyn Fn(u64)) -> IndexedFile {
    let probe = probe_file(&f.path, f.category);
    let name = f
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = IndexedFile {
        path: f.path.to_string_lossy().into_owned(),
        name,
        category: f.category,
        stat: f.stat,
        probe,
        sha256: None,
        autov2: None,
        autov3: None,
        hash_error: None,
    };
    // AutoV3 is defined for safetensors LoRAs (it skips their header).
    let data_offset = match (out.probe.kind, out.probe.format) {
        (super::Kind::Lora, super::Format::Safetensors) => out.probe.data_offset,
        _ => None,
    };
    match hash_file(&f.path, data_offset, on_bytes) {
        Ok(h) => {
            out.autov2 = Some(h.autov2());
            out.autov3 = h.autov3();
            out.sha256 = Some(h.sha256);
        }
        Err(e) => out.hash_error = Some(format!("cannot read the file: {e}")),
    }
    out
}

/// A stored path not seen in this walk is gone when it lies under a walked
/// folder, or anywhere else and no longer exists.
fn is_gone(path: &str, dirs: &[ModelDir]) -> bool {
    let p = Path::new(path);
    dirs.iter().any(|d| p.starts_with(&d.path)) || !p.exists()
}
