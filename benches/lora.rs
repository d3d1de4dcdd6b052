//! The cost of LoRAs at load time: what rendering does before sampling (open
//! the checkpoint, read the LoRAs against its key map, load the text encoder,
//! drop it, load the UNet), with no LoRA, one and three.
//!
//! `cargo bench --bench lora` writes under target/bench-data/lora (kept for
//! re-runs) a full-size SD1.5 checkpoint in the real layout
//! (tests/data/headers/sd15_checkpoint.json, 1130 tensors, F16, 2.1 GB) with
//! pseudo-random weights, and three kohya LoRAs of rank 32 on every
//! attention, ff and proj_in/out layer of the UNet and every attention and
//! mlp layer of the text encoder (the sd15_kohya template: 264 modules,
//! 37.7 MB F16 each, the size of a common SD1.5 LoRA). It loads each case
//! once to warm the page cache, then alternates none / 1 / 3 LoRAs for
//! GEN_BENCH_ROUNDS rounds (default 5) and prints medians (with the
//! spread) and ratios against no LoRA, split into reading the LoRAs, the
//! text encoder and the UNet, and the added seconds per LoRA as the median
//! of the differences to no LoRA within each round. The compute dtype is f32 on the CPU (LoadOptions::default(), what
//! a CPU render uses). Then the same in a child process pinned to one core
//! (`taskset -c 0`, RAYON_NUM_THREADS=1, which candle's matmul also reads).

mod common;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use common::median;
use gen_core::catalog::safetensors::Dtype;
use gen_core::catalog::testkit::{self, TensorSpec};
use gen_core::engine::lora::{KeyMap, LoraSet, Strengths};
use gen_core::engine::models::{Checkpoint, LoadOptions};

const CHILD: &str = "GEN_BENCH_LORA_PINNED";
const RANK: u64 = 32;
const LORAS: usize = 3;
const MODULES: usize = 264;

/// splitmix64, one value per call.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// F16 bytes of a tensor: fan-in scaled for matrices and kernels, about 1
/// for norm weights, small for biases, `scalar` for a 0-d tensor.
fn values(spec: &TensorSpec, rng: &mut Rng, scale: f32, scalar: f32) -> Vec<u8> {
    let n = spec.elements() as usize;
    let fan_in: u64 = spec.shape.iter().skip(1).product();
    let weight = spec.name.ends_with("weight");
    let mut out = Vec::with_capacity(n * 2);
    for _ in 0..n {
        let u = rng.uniform();
        let v = match spec.shape.len() {
            0 => scalar,
            1 if weight => 1.0 + 0.1 * u,
            1 => 0.05 * u,
            _ => scale * u / (fan_in as f32).sqrt(),
        };
        out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
    }
    out
}

/// Writes a safetensors file of F16 tensors with pseudo-random values,
/// unless one of the right size is there.
fn write(path: &Path, specs: &[TensorSpec], seed: u64, scale: f32, scalar: f32) {
    assert!(specs.iter().all(|t| t.dtype == Dtype::F16));
    let header = testkit::safetensors_header(specs, &[]);
    let data: u64 = specs.iter().map(TensorSpec::byte_len).sum();
    let size = 8 + header.len() as u64 + data;
    if fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return;
    }
    fs::create_dir_all(path.parent().expect("parent")).expect("bench-data folder");
    let partial = path.with_extension("partial");
    let mut f = BufWriter::new(fs::File::create(&partial).expect("create"));
    f.write_all(&(header.len() as u64).to_le_bytes())
        .expect("write");
    f.write_all(&header).expect("write");
    let mut rng = Rng(seed);
    for spec in specs {
        f.write_all(&values(spec, &mut rng, scale, scalar))
            .expect("write");
    }
    f.into_inner().expect("flush").sync_all().expect("sync");
    fs::rename(&partial, path).expect("rename");
}

fn make_data(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let ckpt = dir.join("sd15_random.safetensors");
    write(&ckpt, &testkit::layout("sd15_checkpoint"), 1, 1.0, 0.0);
    let lora_specs = testkit::lora_layout("sd15_kohya", RANK);
    let loras = (0..LORAS)
        .map(|i| {
            let p = dir.join(format!("lora_{i}_r{RANK}.safetensors"));
            // alpha 16 over rank 32; up small, as trained LoRAs have it.
            write(&p, &lora_specs, 100 + i as u64, 0.1, 16.0);
            p
        })
        .collect();
    (ckpt, loras)
}

/// Seconds spent: reading the LoRAs (key map, files, shapes), the text
/// encoder, the UNet.
#[derive(Default, Clone, Copy)]
struct Split {
    loras: f64,
    text: f64,
    unet: f64,
}

impl Split {
    fn total(&self) -> f64 {
        self.loras + self.text + self.unet
    }
}

/// What rendering does before sampling, with these LoRAs at strength 0.8.
fn load(ckpt_path: &Path, loras: &[PathBuf]) -> Split {
    let opts = LoadOptions::default();
    let start = Instant::now();
    let ckpt = Checkpoint::open(ckpt_path, None).expect("open the checkpoint");
    if !loras.is_empty() {
        let keys = ckpt.weight_keys();
        let map = KeyMap::from_checkpoint(keys.iter().map(String::as_str));
        let mut set = LoraSet::new();
        for path in loras {
            let report = set
                .add_file(path, Strengths::both(0.8), &map)
                .expect("read the LoRA");
            assert!(report.is_complete() && report.mapped == MODULES, "{report}");
        }
        assert_eq!(set.drop_misfits(|k| ckpt.weight_shape(k)), 0);
        ckpt.apply_loras(Arc::new(set));
    }
    let loras_done = Instant::now();
    let text = ckpt.text_encoders(&opts).expect("text encoder");
    drop(text);
    let text_done = Instant::now();
    let unet = ckpt.unet(&opts).expect("UNet");
    drop(unet);
    let unet_done = Instant::now();
    Split {
        loras: (loras_done - start).as_secs_f64(),
        text: (text_done - loras_done).as_secs_f64(),
        unet: (unet_done - text_done).as_secs_f64(),
    }
}

fn measure(ckpt: &Path, loras: &[PathBuf], rounds: usize, label: &str) {
    let cases: [(&str, &[PathBuf]); 3] = [
        ("none", &[]),
        ("1 LoRA", &loras[..1]),
        ("3 LoRAs", &loras[..3]),
    ];
    for (_, l) in &cases {
        load(ckpt, l);
    }
    let mut runs: Vec<Vec<Split>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (_, l)) in cases.iter().enumerate() {
            runs[i].push(load(ckpt, l));
        }
    }
    println!("{label}: {rounds} rounds alternated, medians");
    println!(
        "  case       total s  (min-max)      ratio   LoRAs s   text s   UNet s   +s per LoRA"
    );
    let base = median(runs[0].iter().map(Split::total).collect());
    for (i, (name, l)) in cases.iter().enumerate() {
        let m = |f: fn(&Split) -> f64| median(runs[i].iter().map(f).collect());
        let total = m(Split::total);
        // Paired within each round (the rounds drift on a shared machine).
        let per = if l.is_empty() {
            String::from("-")
        } else {
            let extra = runs[i]
                .iter()
                .zip(&runs[0])
                .map(|(with, none)| (with.total() - none.total()) / l.len() as f64)
                .collect();
            format!("{:.2}", median(extra))
        };
        let totals: Vec<f64> = runs[i].iter().map(Split::total).collect();
        let lo = totals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = totals.iter().copied().fold(0.0, f64::max);
        println!(
            "  {name:<9} {total:8.2}  ({lo:5.2}-{hi:5.2}) {:6.2}x {:9.2} {:8.2} {:8.2}   {per}",
            total / base,
            m(|s| s.loras),
            m(|s| s.text),
            m(|s| s.unet),
        );
    }
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/lora");
    let (ckpt, loras) = make_data(&dir);
    let rounds: usize = std::env::var("GEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if std::env::var_os(CHILD).is_some() {
        measure(&ckpt, &loras, rounds, "taskset -c 0, RAYON_NUM_THREADS=1");
        return;
    }
    let mb = |p: &Path| fs::metadata(p).expect("size").len() as f64 / 1e6;
    println!(
        "lora: SD1.5 checkpoint {:.0} MB (F16, random), {LORAS} kohya LoRAs of rank {RANK}, {MODULES} modules, {:.1} MB each; load in f32 on the CPU",
        mb(&ckpt),
        mb(&loras[0])
    );
    measure(&ckpt, &loras, rounds, "all cores");
    let exe = std::env::current_exe().expect("this benchmark's path");
    let status = Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .env(CHILD, "1")
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .expect("run taskset");
    assert!(status.success(), "the pinned run failed");
}
