//! `gen models list/show` and the output contract.

use crate::{Env, safetensors_bytes, stderr, stdout};

#[test]
fn show_finds_by_id_name_and_hashes() {
    let env = Env::new();
    let p = env.write(
        "loras/Watercolor Style.safetensors",
        &safetensors_bytes("w", 500, 7),
    );
    env.write("loras/other.safetensors", &safetensors_bytes("w", 500, 8));
    env.index();
    let list = env.list();
    let e = crate::by_path(&list, &p);
    let sha = e["sha256"].as_str().unwrap().to_string();
    for q in [
        e["id"].to_string(),
        "watercolor style".to_string(),
        sha.clone(),
        sha[..10].to_uppercase(),
        p.display().to_string(),
    ] {
        let out = env.run(&["--json", "models", "show", &q]);
        assert!(out.status.success(), "{q}: {}", stderr(&out));
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["path"], p.to_str().unwrap(), "{q}");
    }
    let text = stdout(&env.run(&["models", "show", "Watercolor Style"]));
    assert!(text.contains(&format!("sha256      {sha}")), "{text}");
    let missing = env.run(&["models", "show", "nope"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(missing.stdout.is_empty());
}

#[test]
fn list_json_carries_the_contract_fields_and_filters_validate() {
    let env = Env::new();
    env.write("loras/a.safetensors", &safetensors_bytes("w", 10, 1));
    env.index();
    let list = env.list();
    for key in [
        "id",
        "name",
        "path",
        "kind",
        "base",
        "sha256",
        "autov2",
        "autov3",
        "size",
        "format",
        "precision",
        "params",
        "active",
        "error",
    ] {
        assert!(list[0].get(key).is_some(), "missing {key} in {:#}", list[0]);
    }
    let bad = env.run(&["models", "list", "--kind", "spaceship"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("checkpoint"),
        "the error lists valid kinds"
    );
    let out = env.run(&["--json", "models", "list", "--kind", "checkpoint"]);
    assert_eq!(stdout(&out).trim(), "[]");
}

#[test]
fn listing_without_a_catalogue_exits_3_and_creates_nothing() {
    let env = Env::new();
    let out = env.cmd().args(["models", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("gen index"));
    assert!(!env.db().exists());
}

#[test]
fn progress_and_summaries_stay_off_stdout() {
    let env = Env::new();
    env.write("loras/a.safetensors", &safetensors_bytes("w", 10, 1));
    let out = env.run(&["index"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("indexed 1 files"), "{err}");
    assert!(
        !err.contains('\r') && !err.contains("ETA"),
        "no progress bar when stderr is not a terminal"
    );
    let quiet = env.run(&["-q", "index"]);
    assert!(quiet.stderr.is_empty());
}
