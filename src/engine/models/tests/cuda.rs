//! The CUDA build on a GPU: the reference fixtures of the CPU tests, loaded
//! on the GPU, and the flash-attention kernel against candle's attention.
//! Compiled into `cuda` builds only; on a machine without an NVIDIA GPU
//! each test prints that it was skipped (CI has none). On a GPU machine:
//!
//! ```sh
//! cargo test --release --features flash-attn --lib engine::models::tests::cuda -- --nocapture
//! ```
//!
//! Tolerances are absolute against the diffusers fixtures (outputs of
//! order 1), as in the CPU tests; each test states what was measured.

use super::super::layers::{attention, attention_sliced, flash_applies, set_flash_attention};
use super::*;
use std::sync::Mutex;

/// The tests switch flash attention, a process-wide setting, on and off:
/// they run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn gpu() -> Option<Device> {
    match Device::new_cuda(0) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("no CUDA device, skipped: {e}");
            None
        }
    }
}

fn on(device: &Device, dtype: DType) -> LoadOptions {
    LoadOptions {
        dtype,
        device: device.clone(),
        ..opts()
    }
}

// f32 on the GPU (cuBLAS without TF32, candle's default): the same
// tolerance as on the CPU, 1e-4.
#[test]
fn fixtures_match_reference_on_cuda() {
    let Some(dev) = gpu() else { return };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let o = on(&dev, DType::F32);
    let f = fixture("sd15");
    check_clip_with(&f, &o, 0, "clip_l", true, 1e-4);
    check("sd15 unet", &unet_output(&f, &o), &f.refs["unet.out"], 1e-4);
    check_vae_with(&f, &o, 1e-4);
    let f = fixture("sd2");
    check_clip_with(&f, &o, 0, "clip_h", true, 1e-4);
    check("sd2 unet", &unet_output(&f, &o), &f.refs["unet.out"], 1e-4);
    check_vae_with(&f, &o, 1e-4);
    let f = fixture("sdxl");
    check_clip_with(&f, &o, 0, "clip_l", false, 1e-4);
    check_clip_with(&f, &o, 1, "clip_g", false, 1e-4);
    check("sdxl unet", &unet_output(&f, &o), &f.refs["unet.out"], 1e-4);
    check_vae_with(&f, &o, 1e-4);
    let f = fixture("sdxl_refiner");
    check_clip_with(&f, &o, 0, "clip_g", false, 1e-4);
    check(
        "refiner unet",
        &unet_output(&f, &o),
        &f.refs["unet.out"],
        1e-4,
    );
}

// f16 and bf16 UNets on the GPU, with flash attention (in a flash-attn
// build) and with candle's kernels: both against the f32 reference with
// the CPU test's bounds for rounded arithmetic (f16 1e-2, bf16 5e-2).
#[test]
fn half_precision_unets_on_cuda_with_and_without_flash_attention() {
    let Some(dev) = gpu() else { return };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for family in ["sd15", "sd2", "sdxl", "sdxl_refiner"] {
        let f = fixture(family);
        for (dtype, tol) in [(DType::F16, 1e-2), (DType::BF16, 5e-2)] {
            let o = on(&dev, dtype);
            set_flash_attention(true);
            let flash = unet_output(&f, &o);
            set_flash_attention(false);
            let plain = unet_output(&f, &o);
            set_flash_attention(true);
            assert_eq!(flash.dtype(), dtype);
            check(
                &format!("{family} {dtype:?} flash"),
                &flash,
                &f.refs["unet.out"],
                tol,
            );
            check(
                &format!("{family} {dtype:?} candle"),
                &plain,
                &f.refs["unet.out"],
                tol,
            );
            eprintln!(
                "{family} {dtype:?}: flash vs candle attention {:e}",
                max_diff(&flash, &plain)
            );
        }
    }
}

/// Pseudo-random normal-ish values (sum of uniforms), deterministic.
fn noise(shape: &[usize], seed: u64, dev: &Device) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n as u64)
        .map(|i| {
            let mut z = seed
                .wrapping_mul(GOLDEN)
                .wrapping_add(i.wrapping_mul(GOLDEN));
            let mut sum = 0.0;
            for _ in 0..4 {
                z = mix64(z);
                sum += (z >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            }
            sum * 1.7
        })
        .collect();
    Tensor::from_vec(v, shape, dev).unwrap()
}

// The kernel on the attention shapes of SD1.5 (8 heads of 40, 80 and 160;
// 4096, 1024 and 256 tokens at 512x512; 77 text tokens), SDXL and SD2
// (heads of 64), for batches of 2 (prompt and negative), against candle's
// attention in f32 on the same rounded inputs. Bounds: f16 2e-3, bf16
// 1.6e-2 (a few units of the last place of outputs of order 1).
#[test]
fn flash_attention_matches_candle_attention() {
    let Some(dev) = gpu() else { return };
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    set_flash_attention(true);
    let shapes = [
        (8, 4096, 4096, 40),
        (8, 4096, 77, 40),
        (8, 1024, 1024, 80),
        (8, 256, 77, 160),
        (10, 4096, 4096, 64),
        (20, 1024, 77, 64),
        (5, 9216, 9216, 64),
    ];
    for (i, &(h, n, m, d)) in shapes.iter().enumerate() {
        let q = noise(&[2, h, n, d], 3 * i as u64, &dev);
        let k = noise(&[2, h, m, d], 3 * i as u64 + 1, &dev);
        let v = noise(&[2, h, m, d], 3 * i as u64 + 2, &dev);
        for (dtype, tol) in [(DType::F16, 2e-3), (DType::BF16, 1.6e-2)] {
            let half = |x: &Tensor| x.to_dtype(dtype).unwrap();
            let (qh, kh, vh) = (half(&q), half(&k), half(&v));
            assert!(
                cfg!(not(feature = "flash-attn")) || flash_applies(&qh).unwrap(),
                "flash attention should apply to {dtype:?} {:?}",
                qh.dims()
            );
            let ours = attention(&qh, &kh, &vh, None).unwrap();
            assert_eq!(ours.dims(), [2, h, n, d]);
            assert_eq!(ours.dtype(), dtype);
            let f32 = |x: &Tensor| x.to_dtype(DType::F32).unwrap();
            let want = attention_sliced(&f32(&qh), &f32(&kh), &f32(&vh), None, 16 << 20).unwrap();
            check(
                &format!("attention {dtype:?} heads {h}, {n}x{m}, d {d}"),
                &ours,
                &want,
                tol,
            );
        }
    }
}
