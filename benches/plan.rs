//! Planning against a synthetic catalogue of 10,000 LoRAs and 100
//! checkpoints (issue: Choosing; target under 50 ms per plan).
//!
//! `cargo bench --bench plan` writes the catalogue straight into a SQLite
//! file through the real store (entries plus CivitAI-like metadata: tags,
//! trigger words, downloads), then times:
//! - in process: `select::plan::build` alone (analysis + scoring + presets),
//!   median of many runs, per prompt of a small table;
//! - whole commands, alternated: `gen --json explain PROMPT` against the
//!   baseline `gen --json models list`, which opens and reads the same
//!   catalogue and prints it, so the ratio shows what choosing adds.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use common::{gen_cmd, median, pinned, time};
use gen_core::catalog::metadata::{InfoSource, LookupStatus, ModelInfo};
use gen_core::catalog::scan::FileStat;
use gen_core::catalog::store::{IndexedFile, ListFilter, Store};
use gen_core::catalog::{Base, Category, Format, Kind, Probe};
use gen_core::presets::{Level, PresetTable};
use gen_core::select::analysis::analyse;
use gen_core::select::plan::{self, Catalogue, Known, Request, SeedSource};
use gen_core::select::score::Facts;

const LORAS: usize = 10_000;
const CHECKPOINTS: usize = 100;
const WORDS: &[&str] = &[
    "fox",
    "castle",
    "watercolor",
    "anime",
    "portrait",
    "landscape",
    "cyberpunk",
    "detail",
    "sunset",
    "forest",
    "armor",
    "dragon",
    "city",
    "neon",
    "flower",
    "ocean",
    "car",
    "robot",
    "pixel",
    "oil",
];

fn entry(i: usize, kind: Kind, base: Base) -> IndexedFile {
    let name = match kind {
        Kind::Lora => format!(
            "lora_{}_{}_{i}",
            WORDS[i % WORDS.len()],
            WORDS[(i / 7) % WORDS.len()]
        ),
        _ => format!("ckpt_{}_{i}", WORDS[i % WORDS.len()]),
    };
    let category = if kind == Kind::Lora {
        Category::Loras
    } else {
        Category::Checkpoints
    };
    let mut probe = Probe::failed(Format::Safetensors, category, "");
    probe.error = None;
    probe.kind = kind;
    probe.base = base;
    probe.params = Some(if kind == Kind::Lora {
        20_000_000
    } else {
        1_066_000_000
    });
    probe.precision = Some("fp16".into());
    let sha = format!(
        "{:064x}",
        i + if kind == Kind::Lora { 1_000_000 } else { 0 }
    );
    IndexedFile {
        path: format!("/bench/{}/{name}.safetensors", category.as_str()),
        name,
        category,
        stat: FileStat {
            size: 100 << 20,
            mtime_ns: 1,
            inode: i as u64 + 1,
            dev: 1,
        },
        probe,
        autov2: Some(sha[..10].to_string()),
        autov3: None,
        sha256: Some(sha),
        hash_error: None,
    }
}

fn info(i: usize) -> ModelInfo {
    let mut m = ModelInfo::empty(InfoSource::Civitai, LookupStatus::Found, 0);
    m.tags = vec![
        WORDS[i % WORDS.len()].to_string(),
        WORDS[(i * 3) % WORDS.len()].to_string(),
        "style".into(),
    ];
    m.trained_words = vec![format!("trg{i}")];
    m.downloads = Some((i as u64 * 7919) % 1_000_000);
    m.thumbs_up = Some((i as u64 * 31) % 10_000);
    m
}

fn build_catalogue(db: &Path) {
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut store = Store::open(db).unwrap();
    let bases = [Base::Sd15, Base::Sdxl, Base::Pony, Base::FluxDev];
    let mut files: Vec<IndexedFile> = (0..CHECKPOINTS)
        .map(|i| entry(i, Kind::Checkpoint, bases[i % 3]))
        .collect();
    files.extend((0..LORAS).map(|i| entry(i, Kind::Lora, bases[i % 4])));
    for chunk in files.chunks(2000) {
        store.write_batch(chunk).unwrap();
    }
    for (n, f) in files.iter().enumerate() {
        store
            .save_model_info(f.sha256.as_deref().unwrap(), &info(n), None, None)
            .unwrap();
    }
}

fn in_process(db: &Path) -> Vec<(String, f64)> {
    let store = Store::open(db).unwrap();
    let entries = store.list(&ListFilter::default()).unwrap();
    let infos = store.model_infos().unwrap();
    let known: HashMap<String, Known> = entries
        .iter()
        .filter_map(|e| {
            let sha = e.sha256.clone()?;
            let i = infos.get(&sha)?;
            let facts = Facts {
                tags: i.tags.clone(),
                trained_words: i.trained_words.clone(),
                downloads: i.downloads.unwrap_or(0),
                thumbs_up: i.thumbs_up.unwrap_or(0),
                ..Default::default()
            };
            Some((sha, Known { base: None, facts }))
        })
        .collect();
    let cat = Catalogue { entries, known };
    let table = PresetTable::builtin().unwrap();
    let prompts = [
        "a red fox in a forest, watercolor",
        "anime portrait of a knight in armor",
        "neon city at night",
    ];
    prompts
        .iter()
        .map(|prompt| {
            let req = Request {
                prompt: prompt.to_string(),
                negative: None,
                level: Level::Balanced,
                seed: 1,
                seed_source: SeedSource::CommandLine,
                num_images: 1,
                overrides: Default::default(),
                model: None,
                loras: Vec::new(),
                no_auto_lora: false,
                vae: None,
                refiner: Default::default(),
            };
            let runs: Vec<f64> = (0..30)
                .map(|_| {
                    let start = Instant::now();
                    let p = plan::build(
                        &req,
                        analyse(prompt, None),
                        &cat,
                        &table,
                        &|_, _| None,
                        &|_| Ok(()),
                    )
                    .unwrap();
                    std::hint::black_box(p);
                    start.elapsed().as_secs_f64()
                })
                .collect();
            (prompt.to_string(), median(runs))
        })
        .collect()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/plan");
    std::fs::create_dir_all(&root).unwrap();
    let db = root.join("catalog.sqlite");
    build_catalogue(&db);
    println!("planning against {LORAS} LoRAs and {CHECKPOINTS} checkpoints");
    for (prompt, secs) in in_process(&db) {
        println!(
            "  plan::build  {:7.2} ms  ({:.2} of the 50 ms target)  '{prompt}'",
            secs * 1e3,
            secs / 0.050
        );
    }
    let home = root.join("home");
    let rounds: usize = std::env::var("GEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let cmd = |args: &[&str]| {
        let mut c = gen_cmd(&home);
        c.arg("--offline")
            .arg("--json")
            .arg("--db")
            .arg(&db)
            .args(args);
        c
    };
    let explain = || {
        cmd(&[
            "explain",
            "--seed",
            "1",
            "a red fox in a forest, watercolor",
        ])
    };
    let list = || cmd(&["models", "list"]);
    let (mut e, mut l, mut e1, mut l1) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        e.push(time(&mut explain()));
        l.push(time(&mut list()));
        e1.push(time(&mut pinned(&explain())));
        l1.push(time(&mut pinned(&list())));
    }
    let (e, l, e1, l1) = (median(e), median(l), median(e1), median(l1));
    println!(
        "  gen explain       {:7.1} ms   gen models list (baseline) {:7.1} ms   ratio {:.2}",
        e * 1e3,
        l * 1e3,
        e / l
    );
    println!(
        "  pinned to 1 core: {:7.1} ms                              {:7.1} ms   ratio {:.2}",
        e1 * 1e3,
        l1 * 1e3,
        e1 / l1
    );
}
