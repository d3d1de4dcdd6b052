//! Hashing throughput of `gen index` against `openssl dgst -sha256` and
//! `sha256sum` run over the same files one after another (the way a user
//! would hash a library by hand). Issue: Catalogue, target >= 1.5x OpenSSL
//! on 2 cores.
//!
//! `cargo bench --bench hashing` writes about 4.3 GiB of pseudo-random data
//! in mixed file sizes under target/bench-data/hashing (kept for re-runs),
//! warms the page cache, then alternates the three contenders ROUNDS times
//! and prints medians and ratios; then the same pinned to one core
//! (`taskset -c 0`, gen with --threads 1). Set GEN_BENCH_ROUNDS to change
//! the number of rounds.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fill, gen_cmd, median, pinned, time};

/// (count, size in MiB): 2 checkpoint-sized, some mid-sized, many LoRA-sized.
const LAYOUT: &[(usize, usize)] = &[(2, 1024), (6, 256), (40, 16), (200, 1)];

fn make_data(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    for (count, mib) in LAYOUT {
        for i in 0..*count {
            let p = dir.join("checkpoints").join(format!("f{mib}m_{i}.ckpt"));
            if fs::metadata(&p)
                .map(|m| m.len() == (*mib as u64) << 20)
                .unwrap_or(false)
            {
                files.push(p);
                continue;
            }
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            let mut f = fs::File::create(&p).unwrap();
            for j in 0..*mib {
                fill(&mut buf, (*mib * 1000 + i) as u64 * 7919 + j as u64);
                f.write_all(&buf).unwrap();
            }
            files.push(p);
        }
    }
    files
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/hashing");
    let models = root.join("models");
    let files = make_data(&models);
    let total: u64 = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
    let gib = total as f64 / (1u64 << 30) as f64;
    let rounds: usize = std::env::var("GEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let home = root.join("home");

    let gen_index = |threads: Option<&str>| {
        let db = root.join("bench.sqlite");
        for suffix in ["", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let mut c = gen_cmd(&home);
        c.arg("-q")
            .arg("--db")
            .arg(&db)
            .arg("--models")
            .arg(&models)
            .args(["index", "--no-fetch"]);
        if let Some(t) = threads {
            c.args(["--threads", t]);
        }
        c
    };
    let openssl = || {
        let mut c = Command::new("openssl");
        c.args(["dgst", "-sha256"]).args(&files);
        c
    };
    let sha256sum = || {
        let mut c = Command::new("sha256sum");
        c.args(&files);
        c
    };

    // Warm the page cache.
    time(&mut sha256sum());
    println!(
        "hashing: {} files, {gib:.2} GiB, {rounds} rounds alternated, medians",
        files.len()
    );

    let (mut g, mut o, mut s) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        g.push(time(&mut gen_index(None)));
        o.push(time(&mut openssl()));
        s.push(time(&mut sha256sum()));
    }
    let (g, o, s) = (median(g), median(o), median(s));
    println!(
        "  all cores  gen index      {g:7.2} s  {:6.2} GiB/s",
        gib / g
    );
    println!(
        "  1 process  openssl dgst   {o:7.2} s  {:6.2} GiB/s",
        gib / o
    );
    println!(
        "  1 process  sha256sum      {s:7.2} s  {:6.2} GiB/s",
        gib / s
    );
    println!(
        "  ratio gen/openssl = {:.2}x, gen/sha256sum = {:.2}x",
        o / g,
        s / g
    );

    let (mut g1, mut o1) = (vec![], vec![]);
    for _ in 0..rounds {
        g1.push(time(&mut pinned(&gen_index(Some("1")))));
        o1.push(time(&mut pinned(&openssl())));
    }
    let (g1, o1) = (median(g1), median(o1));
    println!(
        "  taskset -c 0: gen --threads 1 {g1:.2} s, openssl {o1:.2} s, ratio {:.2}x",
        o1 / g1
    );
}
