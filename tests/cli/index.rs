//! `gen index`: hashes, unchanged files, moves, bad files, concurrency.

use std::path::Path;
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use gen_core::catalog::store::Store;

use crate::{Env, by_path, noise, safetensors_bytes, stderr, stdout};

fn sha256sum(path: &Path) -> String {
    let out = StdCommand::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum is installed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn hashes_equal_sha256sum_and_autov3_skips_the_header() {
    let env = Env::new();
    let a = env.write(
        "checkpoints/a.safetensors",
        &safetensors_bytes("w", 300_000, 1),
    );
    let b = env.write("checkpoints/sub/b.ckpt", &noise(1_234_567, 2));
    let lora = env.models().join("loras/style.safetensors");
    std::fs::create_dir_all(lora.parent().unwrap()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gen_fixture_style_xl.safetensors"),
        &lora,
    )
    .unwrap();
    let report = env.index();
    assert_eq!(report["files"], 3);
    let list = env.list();
    for p in [&a, &b, &lora] {
        let e = by_path(&list, p);
        let sum = sha256sum(p);
        assert_eq!(e["sha256"], sum.as_str(), "{}", p.display());
        assert_eq!(e["autov2"], &sum[..10]);
    }
    // The real CivitAI values of the sample LoRA (shared/samples/safetensors).
    let e = by_path(&list, &lora);
    assert_eq!(e["autov2"], "402e966ce5");
    assert_eq!(e["autov3"], "8a948f6924cf");
    assert!(
        by_path(&list, &a)["autov3"].is_null(),
        "AutoV3 is for LoRAs only"
    );
}

#[test]
fn unchanged_files_are_not_read_again() {
    let env = Env::new();
    for i in 0..5 {
        env.write(
            &format!("loras/l{i}.safetensors"),
            &safetensors_bytes("w", 1000 + i, i as u8),
        );
    }
    let first = env.index();
    assert_eq!(
        (first["new"].as_u64(), first["hashed_files"].as_u64()),
        (Some(5), Some(5))
    );
    let second = env.index();
    assert_eq!(second["hashed_files"], 0);
    assert_eq!(second["hashed_bytes"], 0);
    assert_eq!(second["unchanged"], 5);
    // A rewritten file (new size and mtime) is read again, and only it.
    std::thread::sleep(Duration::from_millis(20));
    env.write("loras/l3.safetensors", &safetensors_bytes("w", 5000, 9));
    let third = env.index();
    assert_eq!(
        (third["hashed_files"].as_u64(), third["changed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(third["unchanged"], 4);
}

#[test]
fn vanished_files_stay_inactive_and_moved_files_keep_their_id() {
    let env = Env::new();
    let a = env.write("loras/a.safetensors", &safetensors_bytes("w", 100, 1));
    let b = env.write("loras/b.safetensors", &safetensors_bytes("w", 100, 2));
    env.index();
    let before = env.list();
    let (id_a, id_b) = (
        by_path(&before, &a)["id"].clone(),
        by_path(&before, &b)["id"].clone(),
    );

    std::fs::remove_file(&b).unwrap();
    let moved = env.models().join("loras/new/a-renamed.safetensors");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&a, &moved).unwrap();
    let report = env.index();
    assert_eq!(
        (report["vanished"].as_u64(), report["moved"].as_u64()),
        (Some(2), Some(1))
    );

    let after = env.list();
    assert_eq!(after.len(), 2, "{after:#?}");
    let m = by_path(&after, &moved);
    assert_eq!(
        (&m["id"], &m["active"], &m["name"]),
        (&id_a, &true.into(), &"a-renamed".into())
    );
    let gone = by_path(&after, &b);
    assert_eq!((&gone["id"], &gone["active"]), (&id_b, &false.into()));
    assert!(gone["sha256"].is_string(), "a vanished file keeps its data");
    // Not listed without --all; back when the file comes back.
    let active = env.run(&["--json", "models", "list"]);
    assert_eq!(
        serde_json::from_slice::<Vec<serde_json::Value>>(&active.stdout)
            .unwrap()
            .len(),
        1
    );
    env.write("loras/b.safetensors", &safetensors_bytes("w", 100, 2));
    let back = env.index();
    assert_eq!(
        back["changed"].as_u64().unwrap() + back["reactivated"].as_u64().unwrap(),
        1
    );
    assert_eq!(by_path(&env.list(), &b)["active"], true);
}

#[test]
fn comfyui_models_and_extra_model_paths_are_read() {
    let env = Env::new();
    let comfy = env.root().join("ComfyUI");
    let shared = env.root().join("shared");
    for d in ["models/checkpoints", "models/unet"] {
        std::fs::create_dir_all(comfy.join(d)).unwrap();
    }
    for d in ["Lora", "LyCORIS", "sd"] {
        std::fs::create_dir_all(shared.join(d)).unwrap();
    }
    std::fs::write(
        comfy.join("models/checkpoints/c.safetensors"),
        safetensors_bytes("w", 10, 1),
    )
    .unwrap();
    std::fs::write(
        comfy.join("models/unet/u.safetensors"),
        safetensors_bytes("w", 10, 2),
    )
    .unwrap();
    std::fs::write(
        shared.join("Lora/l1.safetensors"),
        safetensors_bytes("w", 10, 3),
    )
    .unwrap();
    std::fs::write(
        shared.join("LyCORIS/l2.safetensors"),
        safetensors_bytes("w", 10, 4),
    )
    .unwrap();
    std::fs::write(
        shared.join("sd/c2.safetensors"),
        safetensors_bytes("w", 10, 5),
    )
    .unwrap();
    std::fs::write(
        comfy.join("extra_model_paths.yaml"),
        format!(
            "a1111:\n  base_path: {}\n  checkpoints: sd\n  loras: |\n    Lora\n    LyCORIS\n  configs: sd\n",
            shared.display()
        ),
    )
    .unwrap();
    let out = env
        .cmd()
        .args(["--json", "--comfyui"])
        .arg(&comfy)
        .arg("index")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"], 5);
    // models/checkpoints, models/unet, and sd, Lora, LyCORIS from the yaml.
    assert_eq!(report["folders"], 5);
}

#[test]
fn bad_files_are_listed_with_reasons_and_do_not_stop_the_index() {
    let env = Env::new();
    let good = env.write("loras/good.safetensors", &safetensors_bytes("w", 64, 1));
    let mut huge = Vec::from((200u64 << 20).to_le_bytes());
    huge.extend_from_slice(b"{}");
    let mut past_end = safetensors_bytes("w", 64, 1);
    past_end.truncate(past_end.len() - 10);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("loras/zero.safetensors", vec![]),
        ("loras/short.safetensors", vec![1, 2, 3]),
        ("loras/huge-header.safetensors", huge),
        (
            "loras/not-json.safetensors",
            [&9u64.to_le_bytes()[..], b"{not json"].concat(),
        ),
        ("loras/past-end.safetensors", past_end),
        ("checkpoints/old.ckpt", b"PK\x03\x04 pickle inside".to_vec()),
        ("loras/thing.xyz", b"???".to_vec()),
    ];
    for (rel, bytes) in &bad {
        env.write(rel, bytes);
    }
    let out = env.run(&["--json", "index"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"], 8);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), bad.len(), "{problems:#?}");
    let list = env.list();
    assert!(by_path(&list, &good)["error"].is_null());
    for (rel, _) in &bad {
        let e = by_path(&list, &env.models().join(rel));
        let err = e["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{rel} has no error: {e:#}"));
        assert!(err.len() > 10, "{rel}: '{err}' is not a clear reason");
    }
    let pickle = by_path(&list, &env.models().join("checkpoints/old.ckpt"));
    assert_eq!(pickle["format"], "pickle");
    assert!(
        pickle["sha256"].is_string(),
        "pickles are hashed, never unpickled"
    );
    // Human listing shows the reasons too.
    let text = stdout(&env.run(&["models", "list"]));
    assert!(text.contains("zero") && text.contains(" ! "), "{text}");
}

#[cfg(unix)]
#[test]
fn unreadable_files_are_reported() {
    let env = Env::new();
    env.write("loras/good.safetensors", &safetensors_bytes("w", 64, 1));
    let locked = env.write("loras/locked.safetensors", &safetensors_bytes("w", 64, 2));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything: run gen as `nobody` then, in a world-writable tree.
    let is_root = unsafe { libc_geteuid() } == 0;
    let mut cmd = if is_root {
        for p in [
            env.root().to_path_buf(),
            env.models(),
            env.models().join("loras"),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::set_permissions(
            env.models().join("loras/good.safetensors"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        env.std_cmd_via(
            "setpriv",
            &["--reuid=65534", "--regid=65534", "--clear-groups"],
        )
    } else {
        env.std_cmd()
    };
    cmd.args(["--json", "--models"])
        .arg(env.models())
        .arg("index");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let err = problems[0]["error"].as_str().unwrap().to_lowercase();
    assert!(err.contains("permission denied"), "{err}");
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn nothing_to_index_exits_3_and_all_broken_exits_1() {
    let env = Env::new();
    std::fs::create_dir_all(env.models().join("checkpoints")).unwrap();
    let out = env.run(&["index"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    env.write("checkpoints/zero.safetensors", b"");
    let out = env.run(&["index"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("zero.safetensors"));
    let none = Env::new();
    let out = none.cmd().arg("index").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("--comfyui"), "{}", stderr(&out));
}

fn tree_of(env: &Env, files: usize, size: usize) {
    for i in 0..files {
        env.write(
            &format!("loras/d{}/f{i}.safetensors", i % 7),
            &safetensors_bytes("w", size / 2, i as u8),
        );
    }
}

fn assert_consistent(env: &Env, files: usize) {
    let store = Store::open(&env.db()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let list = env.list();
    assert_eq!(list.len(), files, "every file exactly once");
    assert!(
        list.iter()
            .all(|e| e["active"] == true && e["sha256"].is_string())
    );
}

#[test]
fn index_runs_at_once_leave_a_consistent_catalogue() {
    let env = Env::new();
    tree_of(&env, 300, 40_000);
    let spawn = || {
        let mut c = env.std_cmd();
        c.args(["-q", "--models"])
            .arg(env.models())
            .arg("index")
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    // Three at once on a catalogue that does not exist yet: they race to
    // create it, migrate it and write the same rows.
    let children = [spawn(), spawn(), spawn()];
    for out in children.map(|c| c.wait_with_output().unwrap()) {
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_consistent(&env, 300);
    assert_eq!(env.index()["hashed_files"], 0);
}

#[test]
fn a_killed_index_leaves_a_consistent_catalogue_and_the_next_run_finishes() {
    let env = Env::new();
    let files = 60;
    tree_of(&env, files, 6 << 20);
    let mut child = env
        .std_cmd()
        .args(["-q", "--models"])
        .arg(env.models())
        .args(["index", "--threads", "1"])
        .spawn()
        .unwrap();
    // Kill it once it has committed something (or give up waiting after 20 s).
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let rows = Store::open(&env.db())
            .ok()
            .and_then(|s| s.stored_files().ok())
            .map(|m| m.len())
            .unwrap_or(0);
        if rows > 0 || start.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    let store = Store::open(&env.db()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let kept = store.stored_files().unwrap().len();
    drop(store);
    let report = env.index();
    assert_eq!(
        report["hashed_files"].as_u64().unwrap() as usize,
        files - kept,
        "committed work is not redone"
    );
    assert_consistent(&env, files);
}

#[test]
fn a_library_of_pickles_is_indexed_without_unpickling() {
    let env = Env::new();
    let p = env.write("checkpoints/old-model.ckpt", &noise(4096, 9));
    let out = env.run(&["--json", "index"]);
    assert!(
        out.status.success(),
        "pickles are indexed (hashed and listed): {}",
        stderr(&out)
    );
    let e = by_path(&env.list(), &p).clone();
    assert_eq!(
        (e["format"].as_str(), e["kind"].as_str()),
        (Some("pickle"), Some("checkpoint"))
    );
    assert_eq!(e["sha256"], sha256sum(&p).as_str());
    assert!(
        e["error"].as_str().unwrap().contains("never unpickled"),
        "{e:#}"
    );
}
