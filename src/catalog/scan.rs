//! Walks the category folders and lists candidate model files with the
//! `stat` facts that decide whether a file must be read again (size, mtime,
//! inode). Links are followed; walkdir detects loops, which are reported and
//! skipped. Companion files that tools keep beside models (previews,
//! sidecars, notes) are passed over silently; any other file is listed so
//! that an unknown format is reported rather than ignored.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use walkdir::WalkDir;

use super::Category;
use super::roots::ModelDir;

/// A file found under a model folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    pub category: Category,
    pub stat: FileStat,
}

/// What `stat` says of a file; equal stats mean the file need not be read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    pub dev: u64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> FileStat {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        #[cfg(unix)]
        let (inode, dev) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), meta.dev())
        };
        #[cfg(not(unix))]
        let (inode, dev) = (0, 0);
        FileStat {
            size: meta.len(),
            mtime_ns,
            inode,
            dev,
        }
    }
}

/// The result of a walk: files, and problems met on the way (unreadable
/// folders, link loops) which do not stop it.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<FoundFile>,
    pub warnings: Vec<String>,
}

/// Extensions of files that sit beside models but are not models.
const COMPANIONS: &[&str] = &[
    "json", "info", "txt", "md", "yaml", "yml", "toml", "png", "jpg", "jpeg", "webp", "gif", "mp4",
    "webm", "html", "htm", "sha256", "log", "csv", "py", "pyc", "ini", "cfg",
];

fn is_companion(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') {
        return true; // .DS_Store, ._resource forks, editor swap files
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => COMPANIONS.contains(&ext.to_ascii_lowercase().as_str()),
        None => false,
    }
}

/// Walks every folder; a physical file reached twice (a link, overlapping
/// roots) is listed once: under its real path when one of the paths is a
/// link, else under the first path found.
pub fn scan(dirs: &[ModelDir]) -> Scan {
    let mut out = Scan::default();
    let mut seen: HashMap<(u64, u64), (usize, bool)> = HashMap::new();
    for dir in dirs {
        let walker = WalkDir::new(&dir.path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git");
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.warnings.push(walk_error(&e));
                    continue;
                }
            };
            if !entry.file_type().is_file() || is_companion(entry.path()) {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.warnings.push(walk_error(&e));
                    continue;
                }
            };
            let stat = FileStat::of(&meta);
            let is_link = entry.path_is_symlink();
            let found = FoundFile {
                path: entry.into_path(),
                category: dir.category,
                stat,
            };
            if stat.inode != 0 {
                match seen.get(&(stat.dev, stat.inode)) {
                    Some(&(i, true)) if !is_link => {
                        out.files[i] = found;
                        seen.insert((stat.dev, stat.inode), (i, false));
                        continue;
                    }
                    Some(_) => continue,
                    None => {
                        seen.insert((stat.dev, stat.inode), (out.files.len(), is_link));
                    }
                }
            }
            out.files.push(found);
        }
    }
    out
}

fn walk_error(e: &walkdir::Error) -> String {
    let path = e
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Some(ancestor) = e.loop_ancestor() {
        format!("{path}: link loop back to {} skipped", ancestor.display())
    } else if let Some(io) = e.io_error() {
        format!("{path}: {io}")
    } else {
        format!("{path}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::roots::Found;

    #[test]
    fn follows_links_without_looping_and_skips_companions() {
        let tmp = tempfile::tempdir().unwrap();
        let loras = tmp.path().join("loras");
        std::fs::create_dir_all(loras.join("sub")).unwrap();
        std::fs::write(loras.join("sub/a.safetensors"), b"x").unwrap();
        std::fs::write(loras.join("a.preview.png"), b"x").unwrap();
        std::fs::write(loras.join("a.civitai.info"), b"x").unwrap();
        std::fs::write(loras.join("weird.onnx"), b"x").unwrap();
        let other = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("b.safetensors"), b"y").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&other, loras.join("linked")).unwrap();
            std::os::unix::fs::symlink(&loras, loras.join("sub/loop")).unwrap();
            std::os::unix::fs::symlink(
                loras.join("sub/a.safetensors"),
                loras.join("dup.safetensors"),
            )
            .unwrap();
        }
        let dirs = [ModelDir {
            category: Category::Loras,
            path: loras.clone(),
            found: Found::Discovered,
        }];
        let scan = scan(&dirs);
        let mut names: Vec<String> = scan
            .files
            .iter()
            .map(|f| f.path.strip_prefix(&loras).unwrap().display().to_string())
            .collect();
        names.sort();
        #[cfg(unix)]
        {
            // dup.safetensors is the same inode as sub/a.safetensors: listed once.
            assert_eq!(
                names,
                vec!["linked/b.safetensors", "sub/a.safetensors", "weird.onnx"]
            );
            assert_eq!(scan.warnings.len(), 1, "{:?}", scan.warnings);
            assert!(scan.warnings[0].contains("loop"));
        }
    }
}
