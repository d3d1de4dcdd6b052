//! Tests of the real `gen` binary against model trees built in temp folders.
//! One test binary (autotests = false) keeps linking cheap.

mod choosing;
mod civitai;
mod docs;
mod families;
mod index;
mod models;
mod render;
mod system;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// An isolated environment: HOME, XDG folders and the catalogue all live in
/// a temp folder, no GEN_* variable from the caller leaks in, and nothing
/// goes to the network (GEN_OFFLINE) unless a test removes it.
pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn db(&self) -> PathBuf {
        self.root().join("data/gen/catalog.sqlite")
    }

    pub fn models(&self) -> PathBuf {
        self.root().join("models")
    }

    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same isolation for a process the test spawns itself (to run
    /// several at once, or to kill one): `program` runs the `gen` binary,
    /// possibly through a wrapper such as `setpriv`.
    pub fn std_cmd_via(&self, program: &str, wrapper_args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.args(wrapper_args);
        if program != assert_cmd::cargo::cargo_bin("gen").to_str().unwrap() {
            c.arg(assert_cmd::cargo::cargo_bin("gen"));
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("GEN_") || k == "CIVITAI_API_KEY" {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.root().join("home"))
            .env("XDG_DATA_HOME", self.root().join("data"))
            .env("XDG_CONFIG_HOME", self.root().join("config"))
            .env("NO_COLOR", "1")
            .env("GEN_OFFLINE", "1");
        c
    }

    pub fn std_cmd(&self) -> std::process::Command {
        self.std_cmd_via(assert_cmd::cargo::cargo_bin("gen").to_str().unwrap(), &[])
    }

    /// `gen <args>` with `--models <root>/models`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.arg("--models").arg(self.models()).args(args);
        c.output().unwrap()
    }

    /// Runs `gen --json index` and returns the report.
    pub fn index(&self) -> serde_json::Value {
        let out = self.run(&["--json", "index"]);
        assert!(
            out.status.success(),
            "index failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `gen --json models list --all`, as JSON.
    pub fn list(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["--json", "models", "list", "--all"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.models().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// A minimal valid safetensors file: one F16 tensor of `n` elements, its
/// data real (so hashes differ per `seed`) or a sparse hole.
pub fn safetensors_bytes(name: &str, n: usize, seed: u8) -> Vec<u8> {
    let header = format!(
        r#"{{"{name}":{{"dtype":"F16","shape":[{n}],"data_offsets":[0,{}]}}}}"#,
        n * 2
    );
    let mut out = Vec::new();
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend((0..n * 2).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    out
}

/// Pseudo-random bytes (not sparse, not compressible by accident).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn by_path<'a>(list: &'a [serde_json::Value], path: &Path) -> &'a serde_json::Value {
    list.iter()
        .find(|e| e["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not in {list:#?}", path.display()))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
