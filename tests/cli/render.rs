//! End to end (issue: Rendering I): `gen PROMPT --model FILE` on a tiny
//! random checkpoint in the real SD1.5 single-file layout writes a PNG that
//! carries A1111 `parameters` and the plan, never overwrites, and lists the
//! written paths on stdout.

use std::path::{Path, PathBuf};

use gen_core::output::read_texts;

use crate::{Env, stderr, stdout};

/// Deterministic small weights (the exact values do not matter here; the
/// numerics are proven against diffusers in the engine's own tests).
fn weights(key: &str, n: usize, fan_in: usize) -> Vec<f32> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    (0..n)
        .map(|i| {
            let mut z = h.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^= z >> 31;
            let v = ((z >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32;
            v / (fan_in as f32).sqrt()
        })
        .collect()
}

/// Writes the tiny SD1.5 checkpoint (tests/data/reference/models, real LDM
/// keys with small widths) as fp16 safetensors with `modelspec` metadata,
/// which is how the probe knows its family at these widths.
pub fn tiny_sd15(path: &Path) {
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/models/sd15.header.jsonl"),
    )
    .unwrap();
    let mut tensors = Vec::new();
    for line in header.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = v["key"].as_str().unwrap().to_string();
        let mut shape: Vec<usize> = v["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        if key.ends_with("token_embedding.weight") {
            shape[0] = 49408; // the real CLIP vocabulary, which the tokenizer uses
        }
        let n: usize = shape.iter().product();
        if v["dtype"] == "I64" {
            tensors.push(Fixture::I64(key, shape, (0..n as i64).collect()));
            continue;
        }
        let fan_in = shape.iter().skip(1).product::<usize>().max(1);
        let mut w = weights(&key, n, fan_in);
        if shape.len() == 1 && key.ends_with("weight") {
            w.iter_mut().for_each(|x| *x = 1.0 + 0.1 * *x);
        }
        tensors.push(Fixture::F16(key, shape, w));
    }
    write(
        path,
        &tensors,
        &[
            ("modelspec.architecture", "stable-diffusion-v1"),
            ("modelspec.predict_key", "epsilon"),
        ],
    );
}

/// A fixture tensor: f32 values stored as F16, or I64 values.
enum Fixture {
    F16(String, Vec<usize>, Vec<f32>),
    I64(String, Vec<usize>, Vec<i64>),
}

/// Writes the tensors as a safetensors file with `metadata`.
fn write(path: &Path, tensors: &[Fixture], metadata: &[(&str, &str)]) {
    let encoded: Vec<(&str, &[usize], Vec<u8>, safetensors::Dtype)> = tensors
        .iter()
        .map(|t| match t {
            Fixture::F16(k, s, v) => (
                k.as_str(),
                s.as_slice(),
                v.iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect(),
                safetensors::Dtype::F16,
            ),
            Fixture::I64(k, s, v) => (
                k.as_str(),
                s.as_slice(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                safetensors::Dtype::I64,
            ),
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = encoded
        .iter()
        .map(|(k, s, b, d)| {
            (
                *k,
                safetensors::tensor::TensorView::new(*d, s.to_vec(), b).unwrap(),
            )
        })
        .collect();
    let meta = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    safetensors::serialize_to_file(views, Some(meta), path).unwrap();
}

fn png_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_tiny_checkpoint_renders_a_png_with_its_parameters() {
    let env = Env::new();
    let ckpt = env.root().join("elsewhere/tiny-sd15.safetensors");
    tiny_sd15(&ckpt);
    // No catalogue at all: a path given to --model is probed on the spot.
    let out_dir = env.root().join("out");
    let args = [
        "a red fox",
        "--model",
        ckpt.to_str().unwrap(),
        "--seed",
        "42",
        "--steps",
        "4",
        "--width",
        "64",
        "--height",
        "64",
        "--out",
        out_dir.to_str().unwrap(),
        "--num-images",
        "2",
    ];
    let out = env.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<PathBuf> = stdout(&out).lines().map(PathBuf::from).collect();
    assert_eq!(listed.len(), 2, "{}", stdout(&out));
    assert_eq!(
        png_files(&out_dir),
        listed,
        "only the PNGs, no temporary file left"
    );
    let bytes = std::fs::read(&listed[0]).unwrap();
    let texts = read_texts(&bytes).unwrap();
    let params = &texts
        .iter()
        .find(|(k, _)| k == "parameters")
        .expect("A1111 parameters")
        .1;
    let sha = sha256_hex(&std::fs::read(&ckpt).unwrap());
    for needle in [
        "a red fox\n",
        "Steps: 4,",
        "Sampler: DPM++ 2M,",
        "Schedule type: Karras,",
        "CFG scale: 7,",
        "Seed: 42,",
        "Size: 64x64,",
        &format!("Model hash: {},", &sha[..10]),
        "Model: tiny-sd15,",
        "Version: gen ",
    ] {
        assert!(params.contains(needle), "'{needle}' missing from {params}");
    }
    let plan: serde_json::Value =
        serde_json::from_str(&texts.iter().find(|(k, _)| k == "gen").unwrap().1).unwrap();
    assert_eq!(plan["seed"], 42);
    // The image is decoded pixels, 64x64 RGB.
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (64, 64));

    // Same seed, same pixels; an existing file is never overwritten.
    let again = env.run(&args);
    assert!(again.status.success(), "{}", stderr(&again));
    let second: Vec<PathBuf> = stdout(&again).lines().map(PathBuf::from).collect();
    assert!(
        second.iter().all(|p| !listed.contains(p)),
        "new names: {second:?}"
    );
    assert_eq!(png_files(&out_dir).len(), 4);
    assert_eq!(
        pixels(&listed[0]),
        pixels(&second[0]),
        "a seed reproduces its image"
    );
    assert_ne!(
        pixels(&listed[0]),
        pixels(&listed[1]),
        "two images of a batch differ"
    );

    // --out - writes the PNG bytes to stdout.
    let to_stdout = env.run(&[
        "a red fox",
        "--model",
        ckpt.to_str().unwrap(),
        "--seed",
        "42",
        "--steps",
        "2",
        "--width",
        "64",
        "--height",
        "64",
        "--out",
        "-",
    ]);
    assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
    assert_eq!(&to_stdout.stdout[..8], b"\x89PNG\r\n\x1a\n");

    // Sizes that are not multiples of 8 are refused before any work.
    let bad = env.run(&[
        "a red fox",
        "--model",
        ckpt.to_str().unwrap(),
        "--width",
        "70",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Renders `prompt` with `ckpt` at 64x64 into ROOT/out with `settings`
/// and `extra` arguments; the written PNG's path.
fn render_64(env: &Env, ckpt: &Path, prompt: &str, settings: &[&str], extra: &[&str]) -> PathBuf {
    let out_dir = env.root().join("out");
    let mut args = vec![prompt, "--model", ckpt.to_str().unwrap()];
    args.extend_from_slice(settings);
    args.extend_from_slice(&[
        "--width",
        "64",
        "--height",
        "64",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert!(out.status.success(), "{prompt} {extra:?}: {}", stderr(&out));
    PathBuf::from(stdout(&out).trim())
}

fn pixels(path: &Path) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    buf
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A tiny kohya LoRA for [`tiny_sd15`]: one UNet module and one text-encoder
/// module, with kohya's metadata.
fn tiny_lora(path: &Path) {
    let modules: [(&str, usize, usize); 2] = [
        (
            "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k",
            32,
            128,
        ),
        (
            "lora_te_text_model_encoder_layers_0_self_attn_q_proj",
            128,
            128,
        ),
    ];
    let rank = 4usize;
    let mut tensors = Vec::new();
    for (name, out, inp) in modules {
        tensors.push(Fixture::F16(
            format!("{name}.lora_down.weight"),
            vec![rank, inp],
            weights(name, rank * inp, 1),
        ));
        let up = weights(&format!("{name}up"), out * rank, 1);
        tensors.push(Fixture::F16(
            format!("{name}.lora_up.weight"),
            vec![out, rank],
            up,
        ));
        tensors.push(Fixture::F16(
            format!("{name}.alpha"),
            vec![],
            vec![rank as f32],
        ));
    }
    write(
        path,
        &tensors,
        &[
            ("ss_base_model_version", "sd_v1"),
            ("modelspec.architecture", "stable-diffusion-v1/lora"),
        ],
    );
}

#[test]
fn loras_change_the_render_and_are_named_in_the_png() {
    let env = Env::new();
    let ckpt = env.root().join("m/tiny-sd15.safetensors");
    tiny_sd15(&ckpt);
    let lora = env.root().join("m/tiny-lora.safetensors");
    tiny_lora(&lora);
    let out_dir = env.root().join("out");
    let render = |extra: &[&str]| {
        render_64(
            &env,
            &ckpt,
            "a red fox",
            &["--seed", "7", "--steps", "2"],
            extra,
        )
    };
    let plain = render(&[]);
    let with = render(&["--lora", &format!("{}:1.0", lora.display())]);
    let zero = render(&["--lora", &format!("{}:0", lora.display())]);
    assert_ne!(
        pixels(&plain),
        pixels(&with),
        "a LoRA at strength 1 changes the image"
    );
    assert_eq!(
        pixels(&plain),
        pixels(&zero),
        "at strength 0 it changes nothing"
    );
    let texts = read_texts(&std::fs::read(&with).unwrap()).unwrap();
    let params = &texts.iter().find(|(k, _)| k == "parameters").unwrap().1;
    assert!(params.contains("Lora hashes: \"tiny-lora: "), "{params}");

    // A LoRA of another family is refused with a clear message.
    let xl = env.root().join("m/xl-lora.safetensors");
    gen_core::catalog::testkit::write_safetensors(
        &xl,
        &gen_core::catalog::testkit::lora_layout("sdxl_kohya", 4),
        &[],
    )
    .unwrap();
    let out = env.run(&[
        "a red fox",
        "--model",
        ckpt.to_str().unwrap(),
        "--lora",
        xl.to_str().unwrap(),
        "--width",
        "64",
        "--height",
        "64",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be used"), "{}", stderr(&out));
}

/// img2img (issue: Rendering II): `--init-image` starts from a picture,
/// whose own size (cropped to multiples of 8) is the output size; the PNG
/// records the denoising strength. Bad combinations are usage errors.
#[test]
fn init_image_renders_img2img_at_its_size() {
    let env = Env::new();
    let ckpt = env.root().join("m/tiny-sd15.safetensors");
    tiny_sd15(&ckpt);
    let init = env.root().join("in.png");
    let rgb: Vec<u8> = (0..75 * 70)
        .flat_map(|i| [(i % 75) as u8 * 3, (i / 75) as u8 * 3, 128])
        .collect();
    std::fs::write(
        &init,
        gen_core::output::encode_png(&rgb, 75, 70, &[]).unwrap(),
    )
    .unwrap();
    let out_dir = env.root().join("out");
    let base = [
        "a red fox",
        "--model",
        ckpt.to_str().unwrap(),
        "--seed",
        "3",
        "--steps",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        env.run(&args)
    };
    let out = run(&["--init-image", init.to_str().unwrap(), "--denoise", "0.5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let png = PathBuf::from(stdout(&out).trim());
    let bytes = std::fs::read(&png).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap();
    assert_eq!((reader.info().width, reader.info().height), (72, 64));
    let texts = read_texts(&bytes).unwrap();
    let params = &texts.iter().find(|(k, _)| k == "parameters").unwrap().1;
    assert!(
        params.contains("Size: 72x64") && params.contains("Denoising strength: 0.5"),
        "{params}"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&texts.iter().find(|(k, _)| k == "gen").unwrap().1).unwrap();
    assert_eq!(plan["init_image"], init.to_str().unwrap());

    for (extra, says) in [
        (vec!["--denoise", "0.5"], "--denoise needs --init-image"),
        (
            vec!["--init-image", init.to_str().unwrap(), "--denoise", "1.5"],
            "from 0.0 to 1.0",
        ),
        (vec!["--init-image", ckpt.to_str().unwrap()], "--init-image"),
        (vec!["--init-image", "/nonexistent/x.png"], "x.png"),
    ] {
        let out = run(&extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{extra:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

/// `--refiner`: the ultra SDXL preset uses the catalogue's refiner, `none`
/// drops it, a named one is used on any SDXL level, and a file that is no
/// refiner, or a checkpoint that is not SDXL, is refused. With fp16
/// compute, an fp16-fixed SDXL VAE in the catalogue replaces SDXL's own.
#[test]
fn refiner_and_fp16_vae_choices_show_in_the_plan() {
    use crate::choosing::thin;
    use gen_core::catalog::testkit::{layout, write_safetensors};
    let env = Env::new();
    let put = |rel: &str, specs: &[gen_core::catalog::testkit::TensorSpec]| {
        let p = env.models().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        write_safetensors(&p, specs, &[("modelspec.title", &stem)]).unwrap();
        p
    };
    put(
        "checkpoints/xl_base.safetensors",
        &thin("sdxl_base_checkpoint"),
    );
    // The whole refiner layout (a sparse file), so the catalogue knows its
    // real parameter count for the memory plan.
    put(
        "checkpoints/sd_xl_refiner_1.0.safetensors",
        &layout("sdxl_refiner_checkpoint"),
    );
    put("checkpoints/sd15.safetensors", &thin("sd15_checkpoint"));
    put("vae/sdxl_vae_fp16_fix.safetensors", &layout("vae_sdxl"));
    let out = env.run(&["index", "--models", env.models().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = |extra: &[&str]| {
        let mut args = vec!["a castle", "--dry-run", "--json", "--model", "xl_base"];
        args.extend_from_slice(extra);
        let out = env.run(&args);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let refiner = |p: &serde_json::Value| {
        p["required_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["role"] == "refiner")
            .map(|f| f["name"].as_str().unwrap().to_string())
    };
    let ultra = plan(&["--quality", "ultra", "--steps", "10"]);
    assert_eq!(refiner(&ultra).as_deref(), Some("sd_xl_refiner_1.0"));
    let r = &ultra["preset"]["model_specific_params"]["refiner"];
    assert_eq!(
        (r["base_steps"].as_u64(), r["refiner_steps"].as_u64()),
        (Some(8), Some(2))
    );
    let off = plan(&["--quality", "ultra", "--refiner", "none"]);
    assert_eq!(refiner(&off), None);
    // The refiner runs after the base UNet is freed: no higher peak.
    let peak = |p: &serde_json::Value| p["memory"]["estimated_peak_bytes"].as_u64().unwrap();
    let off10 = plan(&["--quality", "ultra", "--steps", "10", "--refiner", "none"]);
    assert_eq!(peak(&ultra), peak(&off10));
    assert!(off["preset"]["model_specific_params"]["refiner"].is_null());
    let named = plan(&["--steps", "20", "--refiner", "sd_xl_refiner_1.0"]);
    assert_eq!(refiner(&named).as_deref(), Some("sd_xl_refiner_1.0"));
    let r = &named["preset"]["model_specific_params"]["refiner"];
    assert_eq!(
        (r["base_steps"].as_u64(), r["refiner_steps"].as_u64()),
        (Some(16), Some(4))
    );

    for (args, says) in [
        (
            vec!["--model", "xl_base", "--refiner", "sd15"],
            "not an SDXL refiner",
        ),
        (
            vec!["--model", "sd15", "--refiner", "sd_xl_refiner_1.0"],
            "works with SDXL checkpoints",
        ),
    ] {
        let mut all = vec!["a castle", "--dry-run"];
        all.extend_from_slice(&args);
        let out = env.run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }

    assert!(plan(&[])["vae"].is_null());
    let fp16 = plan(&["--dtype", "f16"]);
    assert_eq!(fp16["vae"]["name"], "sdxl_vae_fp16_fix", "{}", fp16["vae"]);
}

/// Textual inversion end to end (issue: Rendering II): an embedding in the
/// catalogue whose vectors are the checkpoint's own token vectors of "red
/// fox" renders exactly the image the words render, named the ComfyUI way
/// or the A1111 way, and the PNG names it with its hash under `TI hashes`.
#[test]
fn embeddings_render_as_the_words_they_hold() {
    let env = Env::new();
    let ckpt = env.models().join("checkpoints/tiny-sd15.safetensors");
    tiny_sd15(&ckpt);
    let key = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight";
    let width = 128;
    let table = weights(key, 49408 * width, width);
    let ids = gen_core::engine::models::tokenizer::encode("red fox");
    let rows: Vec<f32> = ids
        .iter()
        .flat_map(|&id| table[id as usize * width..(id as usize + 1) * width].to_vec())
        .collect();
    write(
        &env.models().join("embeddings/foxy.safetensors"),
        &[Fixture::F16(
            "emb_params".into(),
            vec![ids.len(), width],
            rows,
        )],
        &[],
    );
    let out = env.run(&["index", "--models", env.models().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let render = |prompt: &str| {
        let settings = ["--seed", "11", "--steps", "2"];
        render_64(
            &env,
            &ckpt,
            prompt,
            &settings,
            &["--negative", "blurry", "--no-auto-lora"],
        )
    };
    let words = render("a red fox");
    let comfy = render("a embedding:foxy");
    let a1111 = render("a foxy");
    let other = render("a red cat");
    assert!(pixels(&words) == pixels(&comfy), "embedding:foxy differs");
    assert!(pixels(&words) == pixels(&a1111), "bare foxy differs");
    assert!(pixels(&words) != pixels(&other), "red cat is red fox");
    let texts = read_texts(&std::fs::read(&comfy).unwrap()).unwrap();
    let params = &texts.iter().find(|(k, _)| k == "parameters").unwrap().1;
    let sha = sha256_hex(&std::fs::read(env.models().join("embeddings/foxy.safetensors")).unwrap());
    assert!(
        params.contains(&format!("TI hashes: \"foxy: {}\"", &sha[..12])),
        "{params}"
    );
    let plain = read_texts(&std::fs::read(&words).unwrap()).unwrap();
    assert!(!plain.iter().any(|(_, t)| t.contains("TI hashes")));
}

/// `--weighting a1111` reads `[word]` as A1111 does (weight / 1.1), the
/// default reads it as ComfyUI does (plain text).
#[test]
fn a1111_weighting_reads_square_brackets() {
    let env = Env::new();
    let ckpt = env.root().join("m/tiny-sd15.safetensors");
    tiny_sd15(&ckpt);
    let render = |prompt: &str, extra: &[&str]| {
        pixels(&render_64(
            &env,
            &ckpt,
            prompt,
            &["--seed", "5", "--steps", "1"],
            extra,
        ))
    };
    let lowered = render("a (red:0.9090909090909091) fox", &[]);
    let a1111 = render("a [red] fox", &["--weighting", "a1111"]);
    let comfy = render("a [red] fox", &[]);
    assert!(
        a1111 == lowered,
        "[red] is not red/1.1 with --weighting a1111"
    );
    assert!(comfy != lowered, "[red] weighs by default");
}

/// The CUDA build on a GPU renders what the CPU renders: the same seed,
/// noise drawn on the CPU, the same schedule. f32 on the GPU differs only
/// in the order of its sums; f16 (with flash attention in a `flash-attn`
/// build) also in its rounding. Compiled into `cuda` builds only; without
/// an NVIDIA GPU it prints that it was skipped.
#[cfg(feature = "cuda")]
#[test]
fn cuda_renders_what_the_cpu_renders() {
    if let Err(e) = candle_core::Device::new_cuda(0) {
        eprintln!("no CUDA device, skipped: {e}");
        return;
    }
    let env = Env::new();
    let ckpt = env.root().join("m/tiny-sd15.safetensors");
    tiny_sd15(&ckpt);
    let render = |extra: &[&str]| {
        pixels(&render_64(
            &env,
            &ckpt,
            "a red fox",
            &["--seed", "42", "--steps", "4"],
            extra,
        ))
    };
    let cpu = render(&["--device", "cpu"]);
    for (dtype, mean_bound, max_bound) in [("f32", 0.1, 2), ("f16", 1.0, 16)] {
        let gpu = render(&["--device", "cuda", "--dtype", dtype]);
        assert_eq!(gpu.len(), cpu.len());
        let diffs: Vec<i32> = cpu
            .iter()
            .zip(&gpu)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .collect();
        let max = diffs.iter().copied().max().unwrap();
        let mean = diffs.iter().map(|d| f64::from(*d)).sum::<f64>() / diffs.len() as f64;
        eprintln!("cuda {dtype} vs cpu f32: mean {mean:.3}, max {max} (of 255)");
        assert!(
            mean <= mean_bound && max <= max_bound,
            "cuda {dtype}: mean {mean}, max {max}"
        );
    }
}
