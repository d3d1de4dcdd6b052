//! Shared by the benchmark programs: running commands, timing, medians.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs `cmd`, panicking with its stderr on failure; returns wall seconds.
pub fn time(cmd: &mut Command) -> f64 {
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The `gen` binary built for this benchmark, with an isolated home.
pub fn gen_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gen"));
    c.env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    c
}

/// `taskset -c 0 <cmd>`: pinned to one core.
pub fn pinned(cmd: &Command) -> Command {
    let mut c = Command::new("taskset");
    c.arg("-c")
        .arg("0")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c
}

/// Pseudo-random bytes (xorshift), so nothing is sparse or compressible.
pub fn fill(buf: &mut [u8], seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}
