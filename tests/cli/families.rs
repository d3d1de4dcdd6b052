//! The probe through the real binary: header-only fixtures in the real key
//! layouts (tests/data/headers, taken from shared/samples) are indexed and
//! listed with the right kind, base, precision and parameter count; and the
//! commands that build on the catalogue (presets, explain) use them.

use std::path::PathBuf;

use gen_core::catalog::testkit::{self, layout, layout_index, lora_layout, write_safetensors};

use crate::{Env, by_path, stderr, stdout};

fn write_layout(env: &Env, rel: &str, name: &str, metadata: &[(&str, &str)]) -> PathBuf {
    let p = env.models().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_safetensors(&p, &layout(name), metadata).unwrap();
    p
}

fn write_lora(env: &Env, rel: &str, template: &str, metadata: &[(&str, &str)]) -> PathBuf {
    let p = env.models().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    write_safetensors(&p, &lora_layout(template, 4), metadata).unwrap();
    p
}

#[test]
fn families_are_recognised_by_gen_index() {
    let env = Env::new();
    let sd15 = write_layout(
        &env,
        "checkpoints/v1-5-pruned-emaonly-fp16.safetensors",
        "sd15_checkpoint",
        &[],
    );
    let vae = write_layout(&env, "vae/ae.safetensors", "vae_flux_ae", &[]);
    let clip = write_layout(&env, "text_encoders/clip_l.safetensors", "clip_l", &[]);
    let xl_lora = write_lora(&env, "loras/detail_xl.safetensors", "sdxl_kohya", &[]);
    let flux_lora = write_lora(&env, "loras/flux/style.safetensors", "flux_kohya", &[]);
    // A LoRA saved in the checkpoints folder is still a LoRA.
    let misplaced = write_lora(&env, "checkpoints/oops_lora.safetensors", "sd15_kohya", &[]);
    // Tensors say SDXL; only metadata may say Pony (a file name never does).
    let pony = write_lora(
        &env,
        "loras/style_a.safetensors",
        "sdxl_kohya",
        &[("modelspec.architecture", "pony-diffusion-v6-xl/lora")],
    );
    let named_pony = write_lora(
        &env,
        "loras/ponyDiffusionV6XL_style.safetensors",
        "sdxl_kohya",
        &[],
    );
    let report = env.index();
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    let list = env.list();
    let expect = [
        (&sd15, "checkpoint", "sd_1_5", "fp16"),
        (&vae, "vae", "flux_dev", "fp32"),
        (&clip, "text_encoder", "unknown", "fp16"),
        (&xl_lora, "lora", "sdxl", "fp16"),
        (&flux_lora, "lora", "flux_dev", "fp16"),
        (&misplaced, "lora", "sd_1_5", "fp16"),
    ];
    for (path, kind, base, precision) in expect {
        let e = by_path(&list, path);
        assert_eq!(
            (
                e["kind"].as_str(),
                e["base"].as_str(),
                e["precision"].as_str()
            ),
            (Some(kind), Some(base), Some(precision)),
            "{}: {:#}",
            path.display(),
            e["reasons"]
        );
    }
    assert_eq!(
        by_path(&list, &sd15)["params"],
        layout_index("sd15_checkpoint")["n_params"]
    );
    assert!(
        by_path(&list, &xl_lora)["autov3"].is_string(),
        "LoRAs get AutoV3"
    );
    assert!(by_path(&list, &sd15)["autov3"].is_null());
    // What metadata decides is recorded with its reason.
    assert_eq!(by_path(&list, &pony)["base"], "pony");
    assert_eq!(by_path(&list, &named_pony)["base"], "sdxl");
    let filtered = stdout(&env.run(&[
        "--json", "models", "list", "--kind", "lora", "--base", "sdxl",
    ]));
    let filtered: Vec<serde_json::Value> = serde_json::from_str(&filtered).unwrap();
    assert!(
        filtered
            .iter()
            .any(|e| e["path"] == xl_lora.to_str().unwrap())
    );
    assert!(
        filtered
            .iter()
            .all(|e| e["kind"] == "lora" && e["base"] == "sdxl")
    );
    let shown = stdout(&env.run(&["models", "show", "v1-5-pruned-emaonly-fp16"]));
    assert!(shown.contains("sd_1_5") && shown.contains("why"), "{shown}");
}

fn sd15_library(env: &Env) {
    write_layout(
        env,
        "checkpoints/realisticVision_v51.safetensors",
        "sd15_checkpoint",
        &[],
    );
    write_lora(env, "loras/fox_sd15.safetensors", "sd15_kohya", &[]);
    write_lora(env, "loras/fox_xl.safetensors", "sdxl_kohya", &[]);
    write_lora(env, "loras/castle_sd15.safetensors", "sd15_kohya", &[]);
    env.index();
}

#[test]
fn presets_populate_is_idempotent_and_set_reset_validate() {
    let env = Env::new();
    sd15_library(&env);
    let first = env.run(&["presets", "populate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first).trim(), "created 1, kept 0, skipped 0");
    assert_eq!(
        stdout(&env.run(&["presets", "populate"])).trim(),
        "created 0, kept 1, skipped 0"
    );
    assert_eq!(
        stdout(&env.run(&["presets", "populate", "--force"])).trim(),
        "created 1, kept 0, skipped 0"
    );
    assert_eq!(
        stdout(&env.run(&["presets", "populate", "--base", "sdxl"])).trim(),
        "created 0, kept 0, skipped 0"
    );

    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&env.run(&["--json", "presets", "list"]))).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["model"] == "realisticVision_v51"));

    let set = env.run(&[
        "presets",
        "set",
        "realisticVision_v51",
        "quality",
        "steps=33",
        "cfg_scale=6.5",
    ]);
    assert!(set.status.success(), "{}", stderr(&set));
    let show = stdout(&env.run(&["presets", "show", "realisticVision_v51"]));
    assert!(
        show.contains("high") && show.contains("33 steps, cfg 6.5") && show.contains("edited"),
        "{show}"
    );
    for bad in [["steps=0"], ["stepz=3"], ["steps=many"]] {
        let out = env.run(&["presets", "set", "realisticVision_v51", "high", bad[0]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    let out = env.run(&[
        "presets",
        "set",
        "realisticVision_v51",
        "extreme",
        "steps=3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["presets", "set", "fox_sd15", "high", "steps=3"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a LoRA has no presets: {}",
        stderr(&out)
    );
    assert!(
        env.run(&["presets", "reset", "realisticVision_v51", "high"])
            .status
            .success()
    );
    assert!(!stdout(&env.run(&["presets", "show", "realisticVision_v51"])).contains("33 steps"));
}

#[test]
fn explain_chooses_compatible_loras_and_says_where_each_parameter_comes_from() {
    let env = Env::new();
    sd15_library(&env);
    let out = env.run(&[
        "--json",
        "explain",
        "a red fox in the snow",
        "--seed",
        "7",
        "--steps",
        "12",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["checkpoint"]["name"], "realisticVision_v51");
    assert_eq!(plan["seed"], 7);
    assert_eq!(plan["seed_source"], "command_line");
    let loras: Vec<&str> = plan["loras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        loras,
        vec!["fox_sd15"],
        "the SDXL fox LoRA never goes on an SD1.5 checkpoint"
    );
    let param = |name: &str| {
        plan["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            param("steps")["value"].as_u64(),
            param("steps")["source"].as_str()
        ),
        (Some(12), Some("command_line"))
    );
    assert_eq!(param("width")["value"], 512);
    assert_eq!(param("width")["source"], "base_preset");
    // The same inputs give the same plan (free memory is the machine's
    // state, not an input, so it is left out of the comparison).
    let without_free = |bytes: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        v["memory"]["available_bytes"] = serde_json::Value::Null;
        v
    };
    assert_eq!(plan["memory"]["fits"], true);
    let again = env.run(&[
        "--json",
        "explain",
        "a red fox in the snow",
        "--seed",
        "7",
        "--steps",
        "12",
    ]);
    assert_eq!(without_free(&out.stdout), without_free(&again.stdout));
    // --dry-run is the same as explain.
    let dry = env.run(&[
        "--json",
        "a red fox in the snow",
        "--seed",
        "7",
        "--steps",
        "12",
        "--dry-run",
    ]);
    assert_eq!(without_free(&out.stdout), without_free(&dry.stdout));
    // Without --seed a seed is drawn and recorded.
    let drawn: serde_json::Value =
        serde_json::from_slice(&env.run(&["--json", "explain", "a fox"]).stdout).unwrap();
    assert_eq!(drawn["seed_source"], "drawn");
    assert!(drawn["seed"].is_u64());
    // An incompatible --lora is a usage error.
    let bad = env.run(&["explain", "a fox", "--lora", "fox_xl:0.7"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("cannot be used"), "{}", stderr(&bad));
    let human = stdout(&env.run(&["explain", "a fox", "--seed", "1"]));
    assert!(
        human.contains("checkpoint  realisticVision_v51")
            && human.contains("\nmemory      ")
            && human.contains("[base preset]"),
        "{human}"
    );
}

#[test]
fn explain_without_models_exits_3() {
    let env = Env::new();
    let out = env.cmd().args(["explain", "a cat"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("gen index"));
    std::fs::create_dir_all(env.models().join("loras")).unwrap();
    write_lora(&env, "loras/fox_sd15.safetensors", "sd15_kohya", &[]);
    env.index();
    let out = env.run(&["explain", "a cat"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no checkpoints"), "{}", stderr(&out));
    let _ = testkit::HEADERS_DIR;
}
