//! Re-index of a library of 30,000 unchanged files: the wall time of
//! `gen index` when nothing changed. Issue: Catalogue, target < 1 s.
//!
//! `cargo bench --bench reindex` builds 29,900 LoRA-sized (10–300 MiB) and
//! 100 checkpoint-sized (2–7 GiB) sparse safetensors files under
//! target/bench-data/reindex (a valid header, then a hole). Hashing
//! terabytes of holes for the first index would take hours and is not what
//! is measured here, so the first catalogue is written through the real
//! store with each file's real probe and stat and a stand-in hash; the
//! timed runs are the real `gen index` binary, alternated with `find -type f
//! | wc -l` (a plain walk of the same tree) as the baseline.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{gen_cmd, median, pinned, time};
use gen_core::catalog::Category;
use gen_core::catalog::probe::probe_file;
use gen_core::catalog::scan::FileStat;
use gen_core::catalog::store::{IndexedFile, Store};

const LORAS: usize = 29_900;
const CHECKPOINTS: usize = 100;

/// A valid safetensors file of exactly `size` bytes: one F16 tensor whose
/// data fills the file, left as a hole.
fn sparse_safetensors(path: &Path, size: u64) {
    let header_for = |n: u64| {
        format!(
            r#"{{"lora_unet_x.lora_down.weight":{{"dtype":"F16","shape":[{n}],"data_offsets":[0,{}]}}}}"#,
            n * 2
        )
    };
    let mut n = size / 2;
    // The header's own length depends on n; settle it (two rounds suffice),
    // then pad the header with spaces as the format allows.
    for _ in 0..3 {
        n = (size - 8 - header_for(n).len() as u64) / 2;
    }
    let mut header = header_for(n);
    while 8 + header.len() as u64 + 2 * n < size {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    fs::write(path, &bytes).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(bytes.len() as u64 + 2 * n)
        .unwrap();
}

fn make_tree(models: &Path) -> Vec<(PathBuf, Category)> {
    let mut files = Vec::with_capacity(LORAS + CHECKPOINTS);
    for i in 0..LORAS {
        let p = models.join(format!("loras/set{:03}/lora_{i:05}.safetensors", i / 300));
        files.push((p, Category::Loras));
    }
    for i in 0..CHECKPOINTS {
        files.push((
            models.join(format!("checkpoints/ckpt_{i:03}.safetensors")),
            Category::Checkpoints,
        ));
    }
    for (i, (p, cat)) in files.iter().enumerate() {
        if p.exists() {
            continue;
        }
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let size = match cat {
            Category::Checkpoints => (2u64 << 30) + (i as u64 % 6) * (1 << 30),
            _ => (10u64 << 20) + (i as u64 * 7_919 % 290) * (1 << 20),
        };
        sparse_safetensors(p, size);
    }
    files
}

fn seed_catalogue(db: &Path, files: &[(PathBuf, Category)]) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut store = Store::open(db).unwrap();
    let batch: Vec<IndexedFile> = files
        .iter()
        .enumerate()
        .map(|(i, (p, cat))| {
            let sha = format!("{i:064x}");
            IndexedFile {
                path: p.to_str().unwrap().to_string(),
                name: p.file_stem().unwrap().to_string_lossy().into_owned(),
                category: *cat,
                stat: FileStat::of(&fs::metadata(p).unwrap()),
                probe: probe_file(p, *cat),
                autov2: Some(sha[..10].to_string()),
                autov3: None,
                sha256: Some(sha),
                hash_error: None,
            }
        })
        .collect();
    for chunk in batch.chunks(5000) {
        store.write_batch(chunk).unwrap();
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/reindex");
    let models = root.join("models");
    let files = make_tree(&models);
    let db = root.join("catalog.sqlite");
    seed_catalogue(&db, &files);
    let home = root.join("home");
    let rounds: usize = std::env::var("GEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let gen_index = || {
        let mut c = gen_cmd(&home);
        c.arg("--json")
            .arg("--db")
            .arg(&db)
            .arg("--models")
            .arg(&models)
            .args(["index", "--no-fetch"]);
        c
    };
    // Check the premise: nothing is read again.
    let out = gen_index().output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["unchanged"],
        (LORAS + CHECKPOINTS) as u64,
        "{report}"
    );
    assert_eq!(report["hashed_files"], 0);
    let find = || {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("find '{}' -type f | wc -l", models.display()));
        c
    };
    let (mut g, mut f, mut g1) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        g.push(time(&mut gen_index()));
        f.push(time(&mut find()));
        g1.push(time(&mut pinned(&gen_index())));
    }
    let (g, f, g1) = (median(g), median(f), median(g1));
    println!(
        "re-index of {} unchanged files, {rounds} rounds alternated, medians:",
        files.len()
    );
    println!("  gen index            {g:.3} s");
    println!("  gen index, 1 core    {g1:.3} s (taskset -c 0)");
    println!(
        "  find | wc -l         {f:.3} s (baseline walk); ratio gen/find = {:.2}",
        g / f
    );
}
