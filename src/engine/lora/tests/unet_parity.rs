//! One UNet evaluation with a kohya LoRA against diffusers + PEFT
//! (`tests/reference/make_lora_unet_fixtures.py`: diffusers 0.42.1,
//! peft 0.21.2, torch 2.15.0, f32 on the CPU).
//!
//! The checkpoint is the tiny SD1.5 or SDXL one of the model fixtures
//! (real LDM layout, rebuilt from its committed header), the LoRA a kohya
//! file (rank 4, F16, per-module alphas) on every attention q/k/v/out,
//! ff.net.0.proj, ff.net.2, proj_in/proj_out, and LoCon modules on a 3x3
//! resnet conv, the downsampler, a 1x1 skip, a time-embedding linear, an
//! upsampler and a conv2. The reference loads it the diffusers way
//! (`lora_state_dict`'s kohya conversion, PEFT adapters, strength 0.8) and
//! runs unmerged, `y = W x + 0.8 (alpha/r) B(A x)`. Here the LoRA goes
//! through what rendering does (key map from the checkpoint's names,
//! `LoraSet::add_file`, `drop_misfits`, `Checkpoint::apply_loras`), is
//! merged into the weights as they load, and the UNet runs once on the
//! fixture's inputs.
//!
//! Tolerance: 2e-5 absolute on outputs of scale 1-1.2. Measured when
//! written (dev profile): SD1.5 2.2e-6, SDXL 2.6e-6, the f32 rounding the
//! model parity tests see without LoRA. Without the LoRA the same UNet is
//! 0.81 (SD1.5) and 0.62 (SDXL) away from the expected output, and within
//! 2.2e-6 of the reference's output without LoRA; the script checks that
//! leaving out any single module moves the output by at least 2.6e-4
//! (SD1.5) and 1.3e-3 (SDXL), so one module not mapped, or merged at
//! another scale, fails this test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use super::super::*;
use crate::engine::models::tests::build_checkpoint;
use crate::engine::models::unet::{SizeCond, UNetInput, sdxl_adm};
use crate::engine::models::{Checkpoint, LoadOptions};

const TOLERANCE: f32 = 2e-5;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/lora")
}

fn reference(family: &str) -> HashMap<String, Tensor> {
    let path = dir().join(format!("unet_{family}.reference.safetensors"));
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a.to_dtype(DType::F32).expect("f32") - b.to_dtype(DType::F32).expect("f32"))
        .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
        .expect("difference")
}

/// Applies the fixture's LoRA at `strength` the way rendering does; returns
/// its report.
fn apply_lora(ckpt: &Checkpoint, family: &str, strength: f64) -> LoraReport {
    let keys = ckpt.weight_keys();
    let map = KeyMap::from_checkpoint(keys.iter().map(String::as_str));
    let mut set = LoraSet::new();
    let path = dir().join(format!("unet_{family}_kohya.safetensors"));
    let report = set
        .add_file(&path, Strengths::both(strength), &map)
        .expect("read the LoRA")
        .clone();
    assert_eq!(set.drop_misfits(|key| ckpt.weight_shape(key)), 0);
    ckpt.apply_loras(Arc::new(set));
    report
}

/// One UNet evaluation on the fixture's inputs, with the LoRA at this
/// strength (and its report) or without it.
fn evaluate(
    family: &str,
    lora: Option<f64>,
    refs: &HashMap<String, Tensor>,
) -> (Tensor, Option<LoraReport>) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let path = build_checkpoint(tmp.path(), family, &[]);
    let ckpt = Checkpoint::open(&path, None).expect("open the checkpoint");
    let report = lora.map(|strength| apply_lora(&ckpt, family, strength));
    let unet = ckpt.unet(&LoadOptions::default()).expect("load the UNet");
    let x = &refs["unet.x"];
    let adm = refs.get("unet.pooled").map(|pooled| {
        let size = SizeCond::for_image(x.dim(2).expect("h") * 8, x.dim(3).expect("w") * 8);
        sdxl_adm(pooled, &size, 256).expect("adm")
    });
    let out = unet
        .forward(
            x,
            &UNetInput {
                timesteps: &refs["unet.t"],
                context: &refs["unet.context"],
                adm: adm.as_ref(),
            },
        )
        .expect("UNet forward");
    (out, report)
}

fn check(family: &str, modules: usize) {
    let refs = reference(family);
    let expected = &refs["unet.out"];
    let (with, report) = evaluate(family, Some(0.8), &refs);
    let report = report.expect("a report");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.modules, modules, "{report}");
    assert_eq!(report.mapped, modules, "{report}");
    assert_eq!(report.unet_patches, modules, "{report}");
    let err = max_diff(&with, expected);
    let (without, _) = evaluate(family, None, &refs);
    let gap = max_diff(&without, expected);
    let base_err = max_diff(&without, &refs["unet.out_base"]);
    eprintln!(
        "{family}: with the LoRA max abs diff {err:e}; without it {gap:.3} from the expected output, {base_err:e} from the reference without LoRA"
    );
    assert!(
        err <= TOLERANCE,
        "{family}: with the LoRA {err:e} > {TOLERANCE:e}"
    );
    assert!(
        base_err <= TOLERANCE,
        "{family}: without the LoRA {base_err:e} from the reference"
    );
    assert!(
        gap > 100.0 * TOLERANCE,
        "{family}: the LoRA barely moves the output ({gap:e}); the test could not fail"
    );
}

#[test]
fn sd15_unet_with_a_kohya_lora_matches_diffusers_peft() {
    check("sd15", 138);
}

#[test]
fn sdxl_unet_with_a_kohya_lora_matches_diffusers_peft() {
    check("sdxl", 130);
}
