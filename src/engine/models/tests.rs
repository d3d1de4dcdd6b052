//! Tests against the reference fixtures written by
//! `tests/reference/make_model_fixtures.py` (diffusers 0.42.1,
//! transformers 5.23.0, open_clip_torch 3.3.0, torch 2.15.0, all f32 on
//! the CPU).
//!
//! The tiny checkpoints are rebuilt here from their committed headers with
//! [`synth`], the twin of the script's weight function, written to a
//! temporary safetensors file and loaded through the real loader. The
//! tolerances are absolute, in f32, against outputs of order 1; each test
//! states the max difference measured when it was written.

use super::Family;
use super::loader::{Checkpoint, LoadOptions};
use super::unet::{SizeCond, UNetInput, sdxl_adm};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/models")
}

fn fnv1a64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The script's `synth`: a tensor's values from its key (splitmix64 over
/// fnv1a64(key) + index), fan-in scaled.
fn synth(key: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let h = fnv1a64(key);
    let fan_in: usize = shape.iter().skip(1).product();
    (0..n as u64)
        .map(|i| {
            let mut z = h.wrapping_add(i.wrapping_mul(GOLDEN)).wrapping_add(GOLDEN);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let u = (z >> 40) as f64 / (1u64 << 24) as f64;
            let v = (2.0 * u - 1.0) as f32;
            match shape.len() {
                0 => 4.6055,
                1 if key.ends_with("weight") => 1.0f32 + 0.1f32 * v,
                1 => 0.05f32 * v,
                _ => v * (1.0 / (fan_in as f64).sqrt()) as f32,
            }
        })
        .collect()
}

/// Writes the tiny checkpoint of `family` (sd15, sd2, sdxl) from its
/// header, optionally without some keys, and returns its path.
fn build_checkpoint(dir: &Path, family: &str, drop: &[&str]) -> PathBuf {
    let header =
        std::fs::read_to_string(data_dir().join(format!("{family}.header.jsonl"))).unwrap();
    let mut tensors = HashMap::new();
    for line in header.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = v["key"].as_str().unwrap();
        if drop.contains(&key) {
            continue;
        }
        let shape: Vec<usize> = v["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let t = match v["dtype"].as_str().unwrap() {
            "I64" => Tensor::arange(0i64, shape[shape.len() - 1] as i64, &Device::Cpu)
                .unwrap()
                .reshape(shape.as_slice())
                .unwrap(),
            dt => {
                let t =
                    Tensor::from_vec(synth(key, &shape), shape.as_slice(), &Device::Cpu).unwrap();
                if dt == "F16" {
                    t.to_dtype(DType::F16).unwrap()
                } else {
                    t
                }
            }
        };
        tensors.insert(key.to_string(), t);
    }
    let path = dir.join(format!("{family}.safetensors"));
    candle_core::safetensors::save(&tensors, &path).unwrap();
    path
}

fn reference(family: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(
        data_dir().join(format!("{family}.reference.safetensors")),
        &Device::Cpu,
    )
    .unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn check(what: &str, ours: &Tensor, theirs: &Tensor, tol: f32) {
    let d = max_diff(ours, theirs);
    eprintln!(
        "{what}: max abs diff {d:e} (output scale {:.3})",
        max_abs(theirs)
    );
    assert!(d <= tol, "{what}: max abs diff {d} > {tol}");
    assert!(max_abs(theirs) > 0.05, "{what}: reference is degenerate");
}

fn opts() -> LoadOptions {
    LoadOptions {
        vae_encoder: true,
        ..LoadOptions::default()
    }
}

fn ids_and_eos(r: &HashMap<String, Tensor>, tag: &str) -> (Tensor, Vec<usize>) {
    let ids = r[&format!("{tag}.ids")].to_dtype(DType::U32).unwrap();
    let rows: Vec<Vec<u32>> = ids.to_vec2().unwrap();
    // The fixtures' tiny vocabulary ends with its end token (999).
    (ids, super::clip::end_positions(&rows, 999))
}

struct Fixture {
    _dir: tempfile::TempDir,
    ckpt: Checkpoint,
    refs: HashMap<String, Tensor>,
}

fn fixture(family: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = build_checkpoint(dir.path(), family, &[]);
    Fixture {
        ckpt: Checkpoint::open(&path, None).unwrap(),
        refs: reference(family),
        _dir: dir,
    }
}

fn check_clip(f: &Fixture, enc: usize, tag: &str, ln_hidden: bool, tol: f32) {
    let text = f.ckpt.text_encoders(&opts()).unwrap();
    let model = &text.encoders[enc].model;
    let (ids, eos) = ids_and_eos(&f.refs, tag);
    let last = model.forward(&ids, &eos, None, ln_hidden).unwrap();
    check(
        &format!("{tag} last"),
        &last.hidden,
        &f.refs[&format!("{tag}.last")],
        tol,
    );
    let pen = model.forward(&ids, &eos, Some(-2), ln_hidden).unwrap();
    check(
        &format!("{tag} penultimate"),
        &pen.hidden,
        &f.refs[&format!("{tag}.penultimate")],
        tol,
    );
    if let Some(p) = f.refs.get(&format!("{tag}.pooled")) {
        check(&format!("{tag} pooled"), &last.pooled, p, tol);
    }
    if let Some(p) = f.refs.get(&format!("{tag}.projected")) {
        check(
            &format!("{tag} projected"),
            last.projected.as_ref().unwrap(),
            p,
            tol,
        );
    }
}

fn check_unet(f: &Fixture, tol: f32) {
    let unet = f.ckpt.unet(&opts()).unwrap();
    let r = &f.refs;
    let adm = r.get("unet.pooled").map(|p| {
        let (h, w) = (
            r["unet.x"].dim(2).unwrap() * 8,
            r["unet.x"].dim(3).unwrap() * 8,
        );
        sdxl_adm(p, &SizeCond::for_image(h, w), 256).unwrap()
    });
    let out = unet
        .forward(
            &r["unet.x"],
            &UNetInput {
                timesteps: &r["unet.t"],
                context: &r["unet.context"],
                adm: adm.as_ref(),
            },
        )
        .unwrap();
    check("unet", &out, &r["unet.out"], tol);
}

fn check_vae(f: &Fixture, tol: f32) {
    let vae = f.ckpt.vae(&opts()).unwrap();
    check(
        "vae decode",
        &vae.decode(&f.refs["vae.z"]).unwrap(),
        &f.refs["vae.decoded"],
        tol,
    );
    check(
        "vae encode",
        &vae.encode(&f.refs["vae.image"]).unwrap(),
        &f.refs["vae.encoded"],
        tol,
    );
}

fn check_accounting(f: &Fixture, ignored: &[&str]) {
    let _ = super::loader::Pipeline::load(&f.ckpt, &opts()).unwrap();
    for (path, acc) in f.ckpt.accounting() {
        assert!(
            acc.unused.is_empty(),
            "{}: unused tensors {:?}",
            path.display(),
            acc.unused
        );
        let ign: Vec<&str> = acc.ignored.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(ign, ignored, "{}", path.display());
        assert!(!acc.used.is_empty());
    }
}

// SD1.5: CLIP-L (HF names, quick_gelu), conv proj_in UNet with 8 heads.
// Tolerance 1e-4 absolute (outputs of scale 1-4). Measured: clip last
// 2.6e-6, penultimate 3.1e-6, pooled 2.3e-6; unet 1.8e-6; vae decode
// 1.3e-6, encode 1.5e-7.
#[test]
fn sd15_matches_reference() {
    let f = fixture("sd15");
    assert_eq!(f.ckpt.family(), Family::Sd15);
    check_clip(&f, 0, "clip_l", true, 1e-4);
    check_unet(&f, 1e-4);
    check_vae(&f, 1e-4);
    check_accounting(&f, &[]);
}

// SD2.x: OpenCLIP-H (fused qkv, gelu, ln on the penultimate layer),
// linear proj_in UNet with 64-wide heads. v_pred is an ignored marker.
// Tolerance 1e-4. Measured: clip last 2.6e-6, penultimate 3.6e-6, pooled
// 1.8e-6; unet 2.1e-6; vae decode 1.2e-6, encode 1.4e-7.
#[test]
fn sd2_matches_reference() {
    let f = fixture("sd2");
    assert_eq!(f.ckpt.family(), Family::Sd2);
    assert!(f.ckpt.v_prediction_marker());
    check_clip(&f, 0, "clip_h", true, 1e-4);
    check_unet(&f, 1e-4);
    check_vae(&f, 1e-4);
    check_accounting(&f, &["v_pred"]);
}

// SDXL: CLIP-L and OpenCLIP-G without the final norm on the penultimate
// layer, G's projected pooled output; UNet with ADM (pooled + size/crop
// Fourier embeddings) and transformer depths [0, 1, 2].
// Tolerance 1e-4. Measured: clip_l last 2.3e-6, penultimate 5.4e-7;
// clip_g last 2.5e-6, penultimate 7.7e-7, projected 8.3e-7; unet 2.5e-6;
// vae decode 1.0e-6, encode 1.5e-7.
#[test]
fn sdxl_matches_reference() {
    let f = fixture("sdxl");
    assert_eq!(f.ckpt.family(), Family::Sdxl);
    check_clip(&f, 0, "clip_l", false, 1e-4);
    check_clip(&f, 1, "clip_g", false, 1e-4);
    check_unet(&f, 1e-4);
    check_vae(&f, 1e-4);
    check_accounting(&f, &[]);
}
