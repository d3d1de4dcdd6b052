use super::family::{CLIP_L, FLUX_VAE, T5_XXL};
use super::*;
use crate::catalog::Base;

const GIB: u64 = 1 << 30;

fn file(role: Role, params: Option<u64>, precision: &str, size: u64) -> WeightsFile {
    WeightsFile {
        role,
        name: "test".into(),
        params,
        precision: Some(precision.into()),
        size_bytes: size,
    }
}

/// sd_xl_base_1.0.safetensors: 3,468,837,868 elements, fp16.
fn sdxl_base() -> WeightsFile {
    file(Role::Checkpoint, Some(3_468_837_868), "fp16", 6_938_041_042)
}

fn request(family: Family, files: Vec<WeightsFile>, size: u32, compute: Dtype) -> RenderRequest {
    RenderRequest {
        family,
        files,
        width: size,
        height: size,
        batch: 1,
        compute,
        device: DeviceKind::Cuda,
        flash_attention: false,
    }
}

fn weights(b: &Breakdown) -> u64 {
    b.text_encoder_weights + b.denoiser_weights + b.vae_weights
}

#[test]
fn bytes_per_param_by_precision() {
    assert_eq!(bytes_per_param("fp32"), Some(4.0));
    assert_eq!(bytes_per_param("F16"), Some(2.0));
    assert_eq!(bytes_per_param("bf16"), Some(2.0));
    assert_eq!(bytes_per_param("fp8"), Some(1.0));
    assert_eq!(bytes_per_param("F8_E4M3"), Some(1.0));
    assert_eq!(bytes_per_param("Q8_0"), Some(1.0625));
    assert_eq!(bytes_per_param("Q4_K"), Some(0.5625));
    assert_eq!(bytes_per_param("mystery"), None);
}

/// The SDXL base checkpoint in fp16 holds 3.47 B parameters: ≈ 6.9 GB of
/// weights, as its 6.94 GB file says.
#[test]
fn sdxl_fp16_checkpoint_weighs_about_6_9_gb() {
    let req = request(Family::Sdxl, vec![sdxl_base()], 1024, Dtype::F16);
    let b = estimate(&req, Level::None).breakdown;
    assert!(b.assumed.is_empty(), "{:?}", b.assumed);
    // Text encoders and UNet in fp16: 2 bytes per parameter.
    assert_eq!(
        b.text_encoder_weights + b.denoiser_weights,
        (3_468_837_868 - 83_653_863) * 2
    );
    assert_eq!(b.denoiser_weights, 2_567_463_684 * 2);
    // SDXL's VAE decodes in f32.
    assert_eq!(b.vae_weights, 83_653_863 * 4);
    let w = weights(&b) as f64 / 1e9;
    assert!((6.9..7.2).contains(&w), "{w} GB");

    // Without a parameter count, the file size decides.
    let by_size = WeightsFile {
        params: None,
        ..sdxl_base()
    };
    assert_eq!(by_size.param_count(), 3_469_020_521);
    // The same model stored in fp32 and computed in f16 takes the same room.
    let fp32 = file(Role::Checkpoint, None, "fp32", 3_468_837_868 * 4);
    let b32 = estimate(
        &request(Family::Sdxl, vec![fp32], 1024, Dtype::F16),
        Level::None,
    )
    .breakdown;
    assert_eq!(weights(&b32), weights(&b));
}

#[test]
fn activation_formulas_give_the_documented_figures() {
    // SD1.5 at 512², f16, CFG: 2·4096·10000·2 features + 2·8·4096²·2·2 scores.
    let req = request(Family::Sd15, vec![], 512, Dtype::F16);
    assert_eq!(
        denoiser_activations(&req, Dtype::F16, false),
        163_840_000 + 1_073_741_824
    );
    // Sliced: one head of one image.
    assert_eq!(
        denoiser_activations(&req, Dtype::F16, true),
        163_840_000 + 4096 * 4096 * 2 * 2
    );
    // Flux is guidance-distilled: no doubled batch; 4096 image + 512 text tokens.
    let flux = request(Family::Flux, vec![], 1024, Dtype::Bf16);
    assert_eq!(
        denoiser_activations(&flux, Dtype::Bf16, false),
        16384 * 8192 * 2 + 24 * 4608 * 4608 * 2 * 2
    );
    let flash = RenderRequest {
        flash_attention: true,
        ..flux.clone()
    };
    assert_eq!(
        denoiser_activations(&flash, Dtype::Bf16, false),
        16384 * 8192 * 2
    );
    // Renders count on the kernel where a flash-attn build uses it.
    let flash_build = cfg!(feature = "flash-attn");
    assert_eq!(
        flash_attention_applies(DeviceKind::Cuda, Dtype::F16),
        flash_build
    );
    assert_eq!(
        flash_attention_applies(DeviceKind::Cuda, Dtype::Bf16),
        flash_build
    );
    assert!(!flash_attention_applies(DeviceKind::Cuda, Dtype::F32));
    assert!(!flash_attention_applies(DeviceKind::Cpu, Dtype::F16));
    assert!(!flash_attention_applies(DeviceKind::Metal, Dtype::F16));
    assert_eq!(
        RenderRequest::reference(Family::Sdxl, DeviceKind::Cuda).flash_attention,
        flash_build
    );
    // VAE at 1024² in f32: 4 maps of 128 channels + 16384² mid-block attention ×2.
    assert_eq!(vae_activations(1024, 1024, 4), 4 * GIB);
    // Batch scales the denoiser, not the (one image at a time) VAE.
    let two = RenderRequest {
        batch: 2,
        ..req.clone()
    };
    assert_eq!(
        denoiser_activations(&two, Dtype::F16, false),
        2 * denoiser_activations(&req, Dtype::F16, false)
    );
}

#[test]
fn levels_economise_in_order() {
    let req = request(Family::Sdxl, vec![sdxl_base()], 1024, Dtype::F16);
    let peaks: Vec<u64> = Level::ALL
        .iter()
        .map(|l| estimate(&req, *l).peak_bytes)
        .collect();
    assert!(peaks[0] > peaks[1] && peaks[1] > peaks[2], "{peaks:?}");
    let Estimate {
        breakdown: b,
        techniques: t,
        ..
    } = estimate(&req, Level::Balanced);
    assert_eq!(b.peak_stage, Stage::Denoiser);
    assert!(t.sequential_stages && t.tiled_vae && !t.sliced_attention);
    let t = estimate(&req, Level::Aggressive).techniques;
    assert!(t.sliced_attention && t.lower_precision);

    // Just enough for each level picks it; a byte less moves one level down.
    for (i, &level) in Level::ALL.iter().enumerate() {
        let enough = (peaks[i] as f64 / USABLE_FRACTION).ceil() as u64 + 1;
        let p = plan(&req, enough);
        assert_eq!((p.level, p.fits), (level, true), "{}", p.summary());
        assert_eq!(p.available_bytes, enough);
    }
    let p = plan(&req, peaks[2]);
    assert_eq!((p.level, p.fits), (Level::Aggressive, false));
}

/// What people know of SDXL in half precision: a 24 GB card runs it with
/// everything resident, a 12 GB card needs economies, an 8 GB card the most,
/// a 4 GB card cannot.
#[test]
fn sdxl_on_common_cards() {
    let req = request(Family::Sdxl, vec![sdxl_base()], 1024, Dtype::F16);
    assert_eq!(plan(&req, 23 * GIB).level, Level::None);
    assert_eq!(plan(&req, 11 * GIB).level, Level::Balanced);
    let p = plan(&req, 15 * GIB / 2);
    assert_eq!((p.level, p.fits), (Level::Aggressive, true));
    assert!(require(&req, 4 * GIB).is_err());
    // SD1.5 fits a 4 GB card.
    let sd15 = RenderRequest::reference(Family::Sd15, DeviceKind::Cuda);
    assert!(require(&sd15, 4 * GIB).is_ok());
}

#[test]
fn fp8_weights_stay_small_only_when_economising() {
    let den = file(Role::Denoiser, Some(11_901_408_320), "fp8", 11_901_408_320);
    let req = request(Family::Flux, vec![den], 1024, Dtype::Bf16);
    let none = estimate(&req, Level::None).breakdown;
    let aggr = estimate(&req, Level::Aggressive).breakdown;
    assert_eq!(none.denoiser_weights, 11_901_408_320 * 2);
    assert_eq!(aggr.denoiser_weights, 11_901_408_320);
    // No text encoder or VAE file was given: counted at reference size.
    assert_eq!(none.assumed, vec!["text encoders", "VAE"]);
    assert_eq!(none.text_encoder_weights, (T5_XXL + CLIP_L) * 2);

    // GGUF stays quantised at every level.
    let q = file(Role::Denoiser, Some(11_901_408_320), "Q4_K", 6_700_000_000);
    let req = request(Family::Flux, vec![q], 1024, Dtype::Bf16);
    let b = estimate(&req, Level::None).breakdown;
    assert_eq!(
        b.denoiser_weights,
        (11_901_408_320f64 * 0.5625).ceil() as u64
    );
}

#[test]
fn cpu_f32_is_lowered_at_the_aggressive_level() {
    let mut req = request(Family::Sd15, vec![], 512, Dtype::F32);
    req.device = DeviceKind::Cpu;
    let Estimate {
        breakdown: b,
        techniques: t,
        ..
    } = estimate(&req, Level::Balanced);
    assert_eq!(t.compute, Dtype::F32);
    assert_eq!(b.denoiser_weights, 859_520_964 * 4);
    let Estimate {
        breakdown: b,
        techniques: t,
        ..
    } = estimate(&req, Level::Aggressive);
    assert_eq!(t.compute, Dtype::F16);
    assert_eq!(b.denoiser_weights, 859_520_964 * 2);
    assert_eq!(b.overhead, 256 * MIB);
}

#[test]
fn flux_bf16_on_a_24_gb_card_names_what_would_fit() {
    let files = vec![
        file(Role::Denoiser, Some(11_901_408_320), "bf16", 23_802_816_640),
        file(Role::TextEncoder, Some(T5_XXL), "fp16", T5_XXL * 2),
        file(Role::TextEncoder, Some(CLIP_L), "fp16", CLIP_L * 2),
        file(Role::Vae, Some(FLUX_VAE), "fp32", FLUX_VAE * 4),
    ];
    let req = request(Family::Flux, files, 1024, Dtype::Bf16);
    let err = require(&req, 22 * GIB).unwrap_err();
    assert!(err.fp8_fits, "{err}");
    assert!(err.other_families.contains(&Family::Sdxl));
    assert!(!err.other_families.contains(&Family::Flux));
    // The weights alone do not fit: no size helps.
    assert_eq!(err.smaller_size, None);
    let text = err.to_string();
    assert!(
        text.starts_with("not enough memory on cuda: this Flux render at 1024×1024"),
        "{text}"
    );
    assert!(text.contains("an fp8 copy of this Flux model"), "{text}");
    assert!(
        text.contains("another model: SD 1.5 or SD 2.x or SDXL or SD3"),
        "{text}"
    );
    let g: GenError = err.into();
    assert_eq!(g.status, crate::error::Status::Failure);
    assert!(g.hint.unwrap().contains("gen system"));
}

#[test]
fn a_large_render_is_told_a_size_that_fits() {
    let mut req = request(Family::Sd15, vec![], 2048, Dtype::F32);
    req.device = DeviceKind::Cpu;
    req.batch = 4;
    let err = require(&req, 6 * GIB).unwrap_err();
    let (w, h) = err.smaller_size.expect("a smaller size fits");
    assert!(w < 2048 && w % 64 == 0 && w == h, "{w}×{h}");
    // The suggestion really fits, and the next step up would not.
    let at = |s: u32| RenderRequest {
        width: s,
        height: s,
        batch: 1,
        ..req.clone()
    };
    assert!(require(&at(w), 6 * GIB).is_ok());
    assert!(require(&at(w + 128), 6 * GIB).is_err());
    assert!(
        err.to_string()
            .contains(&format!("--width {w} --height {h}")),
        "{err}"
    );
    assert!(err.to_string().contains("(batch 4)"), "{err}");
}

#[test]
fn absurd_sizes_saturate_instead_of_overflowing() {
    let req = request(Family::Sdxl, vec![], u32::MAX, Dtype::F32);
    assert_eq!(estimate(&req, Level::None).peak_bytes, u64::MAX);
    let err = require(&req, 24 * GIB).unwrap_err();
    let (w, h) = err.smaller_size.unwrap();
    assert!(w <= 8192 && w == h, "{w}");
}

#[test]
fn nothing_fits_in_almost_no_memory() {
    let req = RenderRequest::reference(Family::Sd15, DeviceKind::Cuda);
    let err = require(&req, 256 * MIB).unwrap_err();
    assert!(err.other_families.is_empty() && err.smaller_size.is_none());
    assert!(
        err.to_string().contains("nothing gen can render fits"),
        "{err}"
    );
}

#[test]
fn families_of_bases() {
    assert_eq!(Family::of(Base::Pony), Some(Family::Sdxl));
    assert_eq!(Family::of(Base::FluxKrea), Some(Family::Flux));
    assert_eq!(Family::of(Base::Sd21), Some(Family::Sd2));
    assert_eq!(Family::of(Base::Wan21), None);
    assert_eq!(Family::of(Base::Unknown), None);
    // Reference totals match the released files.
    assert_eq!(Family::Sdxl.reference_params(), 3_468_837_868);
    assert_eq!(Family::Sd15.reference_params(), 1_066_235_307);
}

#[test]
fn the_summary_reads_well() {
    let req = request(Family::Sdxl, vec![sdxl_base()], 1024, Dtype::F16);
    let s = plan(&req, 11 * GIB).summary();
    assert!(
        s.starts_with("balanced (stages in turn, tiled VAE): about "),
        "{s}"
    );
    assert!(s.ends_with("of 11.00 GiB free"), "{s}");
}
