//! Shell completions and man pages, rendered from the clap definition.
//!
//! They are committed under `completions/` and `man/` so packagers and
//! people without a Rust toolchain get them, and so they cannot silently
//! drift from `src/cli.rs`: the integration test `tests/cli/docs.rs`
//! renders them all in memory and fails when a committed file differs,
//! telling to run [`REGENERATE`]. `gen completions SHELL` uses the same
//! code.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The command that rewrites `completions/` and `man/`.
pub const REGENERATE: &str = "GEN_UPDATE_DOCS=1 cargo test --test cli docs";

/// The shells completions are made for.
pub const SHELLS: &[Shell] = &[
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// One generated file, its path relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "gen", &mut out);
    out
}

/// The file name each shell looks for (what the shell's own packages use).
pub fn completion_file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "gen.bash",
        Shell::Zsh => "_gen",
        Shell::Fish => "gen.fish",
        Shell::Elvish => "gen.elv",
        Shell::PowerShell => "_gen.ps1",
        _ => "gen.completion",
    }
}

/// A man page for gen and one per subcommand, nested ones included:
/// `gen.1`, `gen-index.1`, `gen-models-list.1`, ...
pub fn man_pages() -> Vec<DocFile> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect_man_pages(&cmd, &mut pages);
    pages
}

fn collect_man_pages(cmd: &clap::Command, pages: &mut Vec<DocFile>) {
    // Every page names gen and its version as its source (clap_mangen would
    // give a subcommand's page its own name and no version).
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("gen {}", env!("CARGO_PKG_VERSION")))
        .manual("gen manual");
    let mut contents = Vec::new();
    man.render(&mut contents)
        .expect("rendering into memory cannot fail");
    pages.push(DocFile {
        path: Path::new("man").join(man.get_filename()),
        contents,
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_man_pages(sub, pages);
    }
}

/// Every generated file.
pub fn all() -> Vec<DocFile> {
    let mut files: Vec<DocFile> = SHELLS
        .iter()
        .map(|&shell| DocFile {
            path: Path::new("completions").join(completion_file_name(shell)),
            contents: completion(shell),
        })
        .collect();
    files.extend(man_pages());
    files
}

/// What differs between the generated files and those under `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    Missing(PathBuf),
    Different(PathBuf),
    /// A file in `completions/` or `man/` that nothing generates any more.
    Extra(PathBuf),
}

/// Compares the committed files under `root` with freshly generated ones.
pub fn check(root: &Path) -> Vec<Stale> {
    let files = all();
    let mut stale = Vec::new();
    for f in &files {
        match std::fs::read(root.join(&f.path)) {
            Ok(bytes) if bytes == f.contents => {}
            Ok(_) => stale.push(Stale::Different(f.path.clone())),
            Err(_) => stale.push(Stale::Missing(f.path.clone())),
        }
    }
    for dir in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = Path::new(dir).join(e.file_name());
            if !files.iter().any(|f| f.path == rel) {
                stale.push(Stale::Extra(rel));
            }
        }
    }
    stale
}

/// Writes every generated file under `root` and removes the extra ones.
pub fn write(root: &Path) -> std::io::Result<()> {
    for stale in check(root) {
        if let Stale::Extra(rel) = stale {
            std::fs::remove_file(root.join(rel))?;
        }
    }
    for f in all() {
        let path = root.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &f.contents)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_has_a_page() {
        let names: Vec<String> = man_pages()
            .iter()
            .map(|p| p.path.display().to_string())
            .collect();
        for want in [
            "man/gen.1",
            "man/gen-index.1",
            "man/gen-models.1",
            "man/gen-models-list.1",
            "man/gen-models-show.1",
            "man/gen-presets-set.1",
            "man/gen-system.1",
            "man/gen-completions.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    }

    #[test]
    fn completions_know_the_subcommands() {
        for &shell in SHELLS {
            let text = String::from_utf8(completion(shell)).unwrap();
            assert!(text.contains("system") && text.contains("index"), "{shell}");
        }
    }

    #[test]
    fn check_finds_missing_different_and_extra_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            check(dir.path())
                .iter()
                .all(|s| matches!(s, Stale::Missing(_)))
        );
        write(dir.path()).unwrap();
        assert_eq!(check(dir.path()), vec![]);
        std::fs::write(dir.path().join("man/gen.1"), "old").unwrap();
        std::fs::write(dir.path().join("man/gen-gone.1"), "old").unwrap();
        let stale = check(dir.path());
        assert!(stale.contains(&Stale::Different("man/gen.1".into())));
        assert!(stale.contains(&Stale::Extra("man/gen-gone.1".into())));
        write(dir.path()).unwrap();
        assert_eq!(check(dir.path()), vec![]);
    }
}
