//! Choosing (issue: Choosing): a prompt table against a fixture catalogue
//! whose metadata comes from `.civitai.info` sidecars (offline), and the
//! Ollama analyser through the binary with a stand-in server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use gen_core::catalog::safetensors::Dtype;
use gen_core::catalog::testkit::{TensorSpec, layout, lora_layout, write_safetensors};
use serde_json::{Value, json};

use crate::{Env, stderr};

/// The tensors of a real checkpoint layout that the probe reads, and
/// nothing else: a real-layout checkpoint of a few MB instead of GBs.
pub(crate) fn thin(name: &str) -> Vec<TensorSpec> {
    const NEEDLES: &[&str] = &[
        "diffusion_model.input_blocks.0.0.",
        "diffusion_model.time_embed.",
        "diffusion_model.label_emb.",
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.",
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.",
        "position_embedding",
        "first_stage_model.decoder.conv_in.",
        "first_stage_model.quant_conv.",
    ];
    layout(name)
        .into_iter()
        .filter(|t| NEEDLES.iter().any(|n| t.name.contains(n)))
        .collect()
}

/// A `.civitai.info` sidecar as the A1111 Civitai Helper writes it (the
/// by-hash answer plus the model's tags).
fn sidecar(base_model: &str, tags: &[&str], trained: &[&str], downloads: u64) -> Value {
    json!({
        "id": 1000 + downloads % 997, "modelId": 2000 + downloads % 991, "name": "v1",
        "baseModel": base_model, "trainedWords": trained,
        "stats": {"downloadCount": downloads, "thumbsUpCount": downloads / 20},
        "model": {"name": "fixture", "type": "Checkpoint", "nsfw": false, "tags": tags},
        "images": []
    })
}

fn add(env: &Env, rel: &str, specs: &[TensorSpec], info: Value) -> PathBuf {
    let p = env.models().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
    // Each file distinct, so each has its own hash and its own metadata.
    write_safetensors(&p, specs, &[("modelspec.title", &stem)]).unwrap();
    std::fs::write(
        p.with_file_name(format!("{stem}.civitai.info")),
        info.to_string(),
    )
    .unwrap();
    p
}

fn library() -> Env {
    let env = Env::new();
    let xl = thin("sdxl_base_checkpoint");
    let sd15 = thin("sd15_checkpoint");
    add(
        &env,
        "checkpoints/juggernautXL_v9.safetensors",
        &xl,
        sidecar(
            "SDXL 1.0",
            &["photorealistic", "realistic", "portrait"],
            &[],
            800_000,
        ),
    );
    add(
        &env,
        "checkpoints/animagineXL_v31.safetensors",
        &xl,
        sidecar("Illustrious", &["anime", "illustration"], &[], 400_000),
    );
    add(
        &env,
        "checkpoints/dreamshaper_8.safetensors",
        &sd15,
        sidecar("SD 1.5", &["art", "painting", "fantasy"], &[], 500_000),
    );
    add(
        &env,
        "checkpoints/realisticVision_v51.safetensors",
        &sd15,
        sidecar("SD 1.5", &["photorealistic", "realistic"], &[], 600_000),
    );
    let xl_lora = lora_layout("sdxl_kohya", 4);
    let sd15_lora = lora_layout("sd15_kohya", 4);
    add(
        &env,
        "loras/wtrclr_xl.safetensors",
        &xl_lora,
        sidecar(
            "SDXL 1.0",
            &["watercolor", "style"],
            &["wtrclr style"],
            50_000,
        ),
    );
    add(
        &env,
        "loras/product_xl.safetensors",
        &xl_lora,
        sidecar("SDXL 1.0", &["product", "bottle"], &[], 20_000),
    );
    add(
        &env,
        "loras/pony_char.safetensors",
        &xl_lora,
        sidecar("Pony", &["character", "girl"], &["ponychar"], 30_000),
    );
    add(
        &env,
        "loras/fox_sd15.safetensors",
        &sd15_lora,
        sidecar("SD 1.5", &["fox", "animal"], &[], 10_000),
    );
    add(
        &env,
        "loras/landscape_sd15.safetensors",
        &sd15_lora,
        sidecar("SD 1.5", &["landscape", "mountains"], &[], 10_000),
    );
    // A VAE and a negative embedding for SD1.5 (real layouts).
    let vae = env
        .models()
        .join("vae/vae-ft-mse-840000-ema-pruned.safetensors");
    std::fs::create_dir_all(vae.parent().unwrap()).unwrap();
    write_safetensors(&vae, &layout("vae_sd15"), &[]).unwrap();
    let neg = env.models().join("embeddings/EasyNegative.safetensors");
    std::fs::create_dir_all(neg.parent().unwrap()).unwrap();
    let emb = [TensorSpec::new("emb_params", Dtype::F32, &[8, 768])];
    write_safetensors(&neg, &emb, &[]).unwrap();
    let report = env.index();
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    env
}

fn plan(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["--json", "explain", "--seed", "1"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn prompt_table() {
    let env = library();
    let list: Vec<Value> =
        serde_json::from_slice(&env.run(&["--json", "models", "list"]).stdout).unwrap();
    let base_of =
        |name: &str| list.iter().find(|e| e["name"] == name).unwrap()["effective_base"].clone();
    assert_eq!(
        base_of("animagineXL_v31"),
        "illustrious",
        "metadata decides the fine-tune"
    );
    assert_eq!(base_of("pony_char"), "pony");

    // (prompt, checkpoint, LoRAs)
    let table: &[(&str, &str, &[&str])] = &[
        (
            "anime girl with cherry blossoms",
            "animagineXL_v31",
            &["pony_char"],
        ),
        (
            "RAW photo portrait of a woman, 85mm",
            "juggernautXL_v9",
            &[],
        ),
        ("oil painting of a castle, fantasy", "dreamshaper_8", &[]),
        ("a sunset over the mountains", "juggernautXL_v9", &[]),
        (
            "product shot of a perfume bottle",
            "juggernautXL_v9",
            &["product_xl"],
        ),
        (
            "a fox in the snow, wtrclr style",
            "juggernautXL_v9",
            &["wtrclr_xl"],
        ),
    ];
    for (prompt, ckpt, loras) in table {
        let p = plan(&env, &[prompt]);
        assert_eq!(
            p["checkpoint"]["name"], *ckpt,
            "{prompt}: {:#}",
            p["checkpoint"]
        );
        assert_eq!(names(&p["loras"]), *loras, "{prompt}: {:#}", p["loras"]);
        // Never across families.
        let family = |b: &str| {
            if ["sdxl", "pony", "illustrious"].contains(&b) {
                "sdxl"
            } else {
                "sd15"
            }
        };
        for l in p["loras"].as_array().unwrap() {
            assert_eq!(
                family(l["base"].as_str().unwrap()),
                family(p["checkpoint"]["base"].as_str().unwrap())
            );
        }
        assert!(
            !p["checkpoint"]["reasons"].as_array().unwrap().is_empty()
                || *ckpt == "juggernautXL_v9"
        );
    }
    // A trigger word already in the prompt is not added twice; one that is
    // not is added once.
    let p = plan(&env, &["a fox in the snow, wtrclr style"]);
    assert_eq!(p["final_prompt"], "a fox in the snow, wtrclr style");
    let p = plan(&env, &["a girl, anime"]);
    assert_eq!(p["final_prompt"], "a girl, anime, ponychar");
    // --style overrides the guess; --model and --no-auto-lora are honoured.
    assert_eq!(
        plan(&env, &["a castle", "--style", "anime"])["checkpoint"]["name"],
        "animagineXL_v31"
    );
    let p = plan(&env, &["a red fox", "--model", "dreamshaper_8"]);
    assert_eq!(
        (
            p["checkpoint"]["name"].as_str(),
            p["checkpoint_chosen_by"].as_str()
        ),
        (Some("dreamshaper_8"), Some("command_line"))
    );
    assert_eq!(names(&p["loras"]), ["fox_sd15"]);
    assert_eq!(
        names(
            &plan(
                &env,
                &["a red fox", "--model", "dreamshaper_8", "--no-auto-lora"]
            )["loras"]
        ),
        Vec::<String>::new()
    );
    // SD1.5 gets the ft-MSE VAE and the negative embedding when no negative
    // prompt is given; SDXL gets neither.
    let p = plan(&env, &["oil painting of a harbour"]);
    assert_eq!(
        p["vae"]["name"], "vae-ft-mse-840000-ema-pruned",
        "{:#}",
        p["checkpoint"]
    );
    assert_eq!(p["negative_prompt"], "embedding:EasyNegative");
    assert_eq!(names(&p["embeddings"]), ["EasyNegative"]);
    let p = plan(&env, &["oil painting of a harbour", "--negative", "blurry"]);
    assert_eq!(
        (p["negative_prompt"].as_str(), names(&p["embeddings"]).len()),
        (Some("blurry"), 0)
    );
    let p = plan(&env, &["RAW photo of a man"]);
    assert!(
        p["vae"].is_null() && p["embeddings"].as_array().unwrap().is_empty(),
        "{p:#}"
    );
    // Embeddings the prompts name: A1111's bare names (the checkpoint's
    // family only) and ComfyUI's `embedding:` (any family); a name the
    // catalogue lacks is a warning.
    let sd15 = ["oil painting of a harbour", "--model", "dreamshaper_8"];
    let p = plan(
        &env,
        &[&sd15[..], &["--negative", "blurry, easynegative"]].concat(),
    );
    assert_eq!(names(&p["embeddings"]), ["EasyNegative"]);
    assert_eq!(p["embeddings"][0]["reason"], "named in the negative prompt");
    // Read as the encoders read them (ComfyUI): a trailing comma is
    // retried without it; `embedding:` glued to a word is plain text.
    let p = plan(
        &env,
        &[&sd15[..], &["--negative", "embedding:EasyNegative, blurry"]].concat(),
    );
    assert_eq!(names(&p["embeddings"]), ["EasyNegative"]);
    let p = plan(
        &env,
        &[&sd15[..], &["--negative", "blurry,embedding:EasyNegative"]].concat(),
    );
    assert!(names(&p["embeddings"]).is_empty(), "{:#}", p["embeddings"]);
    let p = plan(
        &env,
        &[&sd15[..], &["--negative", "embedding:nothere"]].concat(),
    );
    assert!(names(&p["embeddings"]).is_empty());
    assert!(
        p["warnings"].to_string().contains("embedding:nothere"),
        "{}",
        p["warnings"]
    );
    let xl = ["RAW photo of a man", "--model", "juggernautXL_v9"];
    let p = plan(&env, &[&xl[..], &["--negative", "EasyNegative"]].concat());
    assert!(names(&p["embeddings"]).is_empty(), "{:#}", p["embeddings"]);
    let p = plan(
        &env,
        &[&xl[..], &["--negative", "embedding:EasyNegative"]].concat(),
    );
    assert_eq!(names(&p["embeddings"]), ["EasyNegative"]);
    let out = env.run(&[
        "explain",
        "x",
        "--model",
        "juggernautXL_v9",
        "--vae",
        "vae-ft-mse-840000-ema-pruned",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot decode"), "{}", stderr(&out));
    // Runners-up are listed with scores.
    let p = plan(&env, &["RAW photo portrait of a woman"]);
    assert!(
        p["runners_up"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "realisticVision_v51" && r["score"].is_f64())
    );
    // Overrides are checked for compatibility.
    for (args, needle) in [
        (
            vec![
                "explain",
                "x",
                "--model",
                "dreamshaper_8",
                "--lora",
                "wtrclr_xl",
            ],
            "cannot be used",
        ),
        (
            vec!["explain", "x", "--model", "wtrclr_xl"],
            "not a checkpoint",
        ),
        (
            vec!["explain", "x", "--lora", "dreamshaper_8"],
            "not a LoRA",
        ),
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    let out = env.run(&["explain", "x", "--model", "nothing-like-it"]);
    assert_eq!(out.status.code(), Some(3));
}

/// Serves `answers` in turn on 127.0.0.1, each after `delay`.
fn ollama_stand_in(answers: Vec<(u16, String)>, delay: Duration) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body_in = vec![0; len];
            let _ = reader.read_exact(&mut body_in);
            std::thread::sleep(delay);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn ollama_answer(inner: Value) -> (u16, String) {
    (
        200,
        json!({"model": "m", "response": inner.to_string(), "done": true}).to_string(),
    )
}

#[test]
fn ollama_good_malformed_slow_and_absent() {
    let env = library();
    let explain = |url: &str, timeout: &str| {
        let mut c = env.cmd();
        c.env_remove("GEN_OFFLINE")
            .env("GEN_OLLAMA_TIMEOUT_SECS", timeout)
            .args(["--models"])
            .arg(env.models())
            .args([
                "--json",
                "--ollama-url",
                url,
                "explain",
                "--seed",
                "1",
                "a castle at dusk",
            ]);
        c.output().unwrap()
    };
    // A good answer decides the style (anime → the anime checkpoint).
    let url = ollama_stand_in(
        vec![ollama_answer(
            json!({"style": "anime", "content_type": "architecture", "concepts": ["castle", "dusk"]}),
        )],
        Duration::ZERO,
    );
    let out = explain(&url, "5");
    assert!(out.status.success(), "{}", stderr(&out));
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            p["analysis"]["source"].as_str(),
            p["analysis"]["style"].as_str()
        ),
        (Some("ollama"), Some("anime"))
    );
    assert_eq!(p["checkpoint"]["name"], "animagineXL_v31");
    assert!(!stderr(&out).contains("warning"));
    // Malformed, slow and absent all fall back to keywords with a warning.
    let malformed = ollama_stand_in(
        vec![(200, json!({"response": "I think it is anime!"}).to_string())],
        Duration::ZERO,
    );
    let slow = ollama_stand_in(
        vec![ollama_answer(
            json!({"style": "anime", "content_type": "x", "concepts": []}),
        )],
        Duration::from_secs(3),
    );
    let absent = format!(
        "http://{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    );
    for url in [malformed, slow, absent] {
        let out = explain(&url, "1");
        assert!(out.status.success(), "{url}: {}", stderr(&out));
        let p: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(p["analysis"]["source"], "keywords", "{url}");
        assert!(
            stderr(&out).contains("warning") && stderr(&out).contains("keywords"),
            "{url}: {}",
            stderr(&out)
        );
    }
    // --offline never asks.
    let out = env.run(&[
        "--json",
        "--offline",
        "--ollama-url",
        "http://127.0.0.1:9",
        "explain",
        "a castle",
    ]);
    assert!(out.status.success());
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}
