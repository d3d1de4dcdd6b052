//! The committed completions/ and man/ match the clap definition, and
//! `gen completions SHELL` prints the same scripts.
//!
//! `GEN_UPDATE_DOCS=1 cargo test --test cli docs` rewrites them.

use std::path::Path;

use gen_core::docs::{self, REGENERATE, Stale};

use crate::{Env, stdout};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn docs_completions_and_man_pages_are_up_to_date() {
    if std::env::var_os("GEN_UPDATE_DOCS").is_some_and(|v| v == "1") {
        docs::write(repo()).expect("writing completions/ and man/");
    }
    let stale = docs::check(repo());
    let lines: Vec<String> = stale
        .iter()
        .map(|s| match s {
            Stale::Missing(p) => format!("  missing: {}", p.display()),
            Stale::Different(p) => format!("  out of date: {}", p.display()),
            Stale::Extra(p) => format!("  no longer generated: {}", p.display()),
        })
        .collect();
    assert!(
        stale.is_empty(),
        "completions/ and man/ do not match src/cli.rs:\n{}\nrun `{REGENERATE}` and commit the result",
        lines.join("\n")
    );
}

#[test]
fn docs_gen_completions_prints_the_committed_script() {
    let env = Env::new();
    // Compared with the in-memory rendering (which the test above compares
    // with the committed files), so that regenerating cannot race this test.
    for &shell in docs::SHELLS {
        let out = env
            .cmd()
            .args(["completions", &shell.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            out.stdout == docs::completion(shell),
            "{shell}: {}",
            stdout(&out)
        );
        assert!(stdout(&out).contains("system"), "{shell}");
    }
    let bad = env.cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
