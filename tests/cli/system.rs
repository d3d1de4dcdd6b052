//! `gen system` and `gen --json system` (issue 8): the machine, the model
//! folders and how each was found, the catalogue's counts, the paths.

use std::path::Path;

use serde_json::Value;

use crate::{Env, safetensors_bytes, stderr, stdout};

/// No driver wherever the test runs: NVML is pointed at a library that does
/// not exist, so the "no NVIDIA driver" path is exercised on GPU machines too.
const NO_NVML: &str = "/nonexistent/libnvidia-ml.so.1";

fn system_json(env: &Env, args: &[&str]) -> Value {
    let out = env
        .cmd()
        .env("GEN_NVML_LIBRARY", NO_NVML)
        .args(args)
        .args(["--json", "system"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn folders(report: &Value) -> &Vec<Value> {
    report["model_roots"]["folders"].as_array().unwrap()
}

fn folder<'a>(report: &'a Value, path: &Path) -> &'a Value {
    folders(report)
        .iter()
        .find(|f| f["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not in {:#}", path.display(), report["model_roots"]))
}

#[test]
fn a_bare_machine_is_described_and_exits_0() {
    let env = Env::new();
    let out = env
        .cmd()
        .env("GEN_NVML_LIBRARY", NO_NVML)
        .arg("system")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "CPU ",
        "RAM ",
        "no NVIDIA driver found",
        NO_NVML,
        "Devices   cpu",
        "What fits on ",
        "SDXL          1024×1024",
        "none found — give --comfyui DIR or --models DIR",
        "no catalogue yet — run gen index",
        "config.toml (not present)",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(
        text.contains(&env.db().display().to_string()),
        "catalogue path:\n{text}"
    );
    // Looking must not create a catalogue.
    assert!(!env.db().exists());
}

#[test]
fn json_is_one_document_with_machine_devices_and_paths() {
    let env = Env::new();
    let config = env.root().join("config/gen/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "offline = true\n").unwrap();
    let r = system_json(&env, &[]);
    assert_eq!(r["gen_version"], env!("CARGO_PKG_VERSION"));
    assert!(r["cpu"]["logical_cores"].as_u64().unwrap() >= 1);
    assert!(r["ram"]["total_bytes"].as_u64().unwrap() > 0);
    assert_eq!(r["nvidia"]["driver_found"], false);
    assert_eq!(r["nvidia"]["gpus"], serde_json::json!([]));
    assert!(
        r["nvidia"]["note"]
            .as_str()
            .unwrap()
            .starts_with("no NVIDIA driver found")
    );
    let devices = r["devices"].as_array().unwrap();
    let names: Vec<&str> = devices
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu", "cuda", "metal"]);
    assert_eq!(devices[0]["usable"], true);
    // With no driver, cuda is never usable, built or not.
    assert_eq!(devices[1]["usable"], false);
    assert_eq!(devices[1]["built"], cfg!(feature = "cuda"));
    assert_eq!(r["catalogue"]["exists"], false);
    assert_eq!(r["catalogue"]["path"], env.db().to_str().unwrap());
    assert_eq!(r["config"]["path"], config.to_str().unwrap());
    assert_eq!(r["config"]["exists"], true);
    // The memory plan of each family against the RAM: no NVIDIA driver, so
    // the CPU (or Metal on a Mac build with it).
    let fits = &r["what_fits"];
    let metal = cfg!(all(feature = "metal", target_os = "macos"));
    assert_eq!(fits["device"], if metal { "metal" } else { "cpu" });
    assert_eq!(fits["available_bytes"], r["ram"]["available_bytes"]);
    let families: Vec<&str> = fits["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["family"].as_str().unwrap())
        .collect();
    assert_eq!(
        families,
        ["sd15", "sd2", "sdxl", "sdxl_refiner", "flux", "sd3"]
    );
    let sd15 = &fits["families"][0];
    assert_eq!(
        (sd15["width"].as_u64(), sd15["height"].as_u64()),
        (Some(512), Some(512))
    );
    assert!(["none", "balanced", "aggressive"].contains(&sd15["level"].as_str().unwrap()));
    assert!(sd15["estimated_peak_bytes"].as_u64().unwrap() > 1 << 30);
}

#[test]
fn every_folder_says_how_it_was_found() {
    let env = Env::new();
    // --models
    let models = env.models();
    std::fs::create_dir_all(models.join("loras")).unwrap();
    // --comfyui, with an extra_model_paths.yaml
    let comfy = env.root().join("ComfyUI");
    let shared = env.root().join("shared");
    std::fs::create_dir_all(comfy.join("models/checkpoints")).unwrap();
    std::fs::create_dir_all(shared.join("Lora")).unwrap();
    std::fs::write(
        comfy.join("extra_model_paths.yaml"),
        format!("a111:\n  base_path: {}\n  loras: Lora\n", shared.display()),
    )
    .unwrap();
    let r = system_json(
        &env,
        &[
            "--models",
            models.to_str().unwrap(),
            "--comfyui",
            comfy.to_str().unwrap(),
        ],
    );
    assert_eq!(folders(&r).len(), 3, "{:#}", r["model_roots"]);
    let f = folder(&r, &models.join("loras"));
    assert_eq!(f["category"], "loras");
    assert_eq!(f["found"]["via"], "models_root");
    assert_eq!(f["found"]["source"], "flag");
    let f = folder(&r, &comfy.join("models/checkpoints"));
    assert_eq!(f["found"]["via"], "comfy_ui");
    assert_eq!(f["found"]["source"], "flag");
    let f = folder(&r, &shared.join("Lora"));
    assert_eq!(f["found"]["via"], "extra_model_paths");
    assert_eq!(f["found"]["section"], "a111");
    assert_eq!(
        f["found"]["file"],
        comfy.join("extra_model_paths.yaml").to_str().unwrap()
    );

    // The same in words.
    let out = env
        .cmd()
        .env("GEN_NVML_LIBRARY", NO_NVML)
        .arg("--models")
        .arg(&models)
        .arg("--comfyui")
        .arg(&comfy)
        .arg("system")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("(--models / GEN_MODELS)"), "{text}");
    assert!(text.contains("(--comfyui / GEN_COMFYUI)"), "{text}");
    assert!(
        text.contains("(extra_model_paths.yaml, section a111"),
        "{text}"
    );
}

#[test]
fn folders_from_the_config_file_and_from_discovery() {
    let env = Env::new();
    let lib = env.root().join("library");
    std::fs::create_dir_all(lib.join("vae")).unwrap();
    let config = env.root().join("config/gen/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, format!("models = [{:?}]\n", lib.to_str().unwrap())).unwrap();
    let r = system_json(&env, &[]);
    let f = folder(&r, &lib.join("vae"));
    assert_eq!(f["found"]["via"], "models_root");
    assert_eq!(f["found"]["source"], "config");

    // Nothing given: ~/ComfyUI is found by itself.
    let env = Env::new();
    let home_comfy = env.root().join("home/ComfyUI/models/checkpoints");
    std::fs::create_dir_all(&home_comfy).unwrap();
    let r = system_json(&env, &[]);
    assert_eq!(folder(&r, &home_comfy)["found"]["via"], "discovered");
}

#[test]
fn a_broken_extra_model_paths_is_reported_not_fatal() {
    let env = Env::new();
    let comfy = env.root().join("ComfyUI");
    std::fs::create_dir_all(comfy.join("models")).unwrap();
    std::fs::write(comfy.join("extra_model_paths.yaml"), "a: [unclosed").unwrap();
    let r = system_json(&env, &["--comfyui", comfy.to_str().unwrap()]);
    let err = r["model_roots"]["error"].as_str().unwrap();
    assert!(err.contains("extra_model_paths.yaml"), "{err}");
    // The machine is still described.
    assert!(r["cpu"]["logical_cores"].as_u64().unwrap() >= 1);
}

#[test]
fn counts_appear_once_a_catalogue_exists() {
    let env = Env::new();
    env.write("loras/a.safetensors", &safetensors_bytes("w", 10, 1));
    env.write("loras/b.safetensors", &safetensors_bytes("w", 10, 2));
    env.write("checkpoints/c.safetensors", &safetensors_bytes("w", 10, 3));
    // Not `env.index()`: until the probe lands every file is marked unusable
    // and index exits 1, but the files are catalogued all the same.
    env.run(&["index"]);
    assert!(env.db().exists());
    let models = env.models();
    let r = system_json(&env, &["--models", models.to_str().unwrap()]);
    let c = &r["catalogue"];
    assert_eq!(c["exists"], true);
    assert_eq!(c["total"], 3, "{c:#}");
    let counts = c["counts"].as_array().unwrap();
    let sum: u64 = counts.iter().map(|n| n["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, 3);
    assert!(
        counts
            .iter()
            .all(|n| n["kind"].is_string() && n["base"].is_string())
    );

    let out = env
        .cmd()
        .env("GEN_NVML_LIBRARY", NO_NVML)
        .arg("system")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("3 active files"), "{text}");
    assert!(!text.contains("no catalogue yet"), "{text}");
}
