//! SHA-256 of whole files (AutoV2 is its first 10 hex digits) and, for
//! safetensors LoRAs, AutoV3: SHA-256 of the bytes after the 8-byte length
//! and the JSON header (kohya's `sshs_model_hash`, first 12 hex digits on
//! CivitAI). Both come from one pass over the file with large reads; the
//! `sha2` crate uses the CPU's SHA extensions when present. Files are hashed
//! in parallel by the caller (one file per thread).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bytes read at a time: large enough that system calls cost nothing.
pub const READ_SIZE: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    /// Lower-case hex SHA-256 of the bytes from the data offset on.
    pub sha256_data: Option<String>,
    /// Bytes actually read.
    pub bytes_read: u64,
}

impl Hashes {
    pub fn autov2(&self) -> String {
        self.sha256[..10].to_string()
    }
    pub fn autov3(&self) -> Option<String> {
        self.sha256_data.as_ref().map(|h| h[..12].to_string())
    }
}

/// Hashes `path`. With `data_offset`, also hashes the bytes from there on
/// (AutoV3). `on_bytes` is told how many bytes each read brought.
pub fn hash_file(
    path: &Path,
    data_offset: Option<u64>,
    on_bytes: &dyn Fn(u64),
) -> io::Result<Hashes> {
    let mut file = File::open(path)?;
    let mut whole = Sha256::new();
    let mut data = data_offset.map(|_| Sha256::new());
    let mut buf = vec![0u8; READ_SIZE];
    let mut pos: u64 = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        whole.update(chunk);
        if let (Some(h), Some(off)) = (data.as_mut(), data_offset) {
            let end = pos + n as u64;
            if end > off {
                let skip = off.saturating_sub(pos) as usize;
                h.update(&chunk[skip..]);
            }
        }
        pos += n as u64;
        on_bytes(n as u64);
    }
    Ok(Hashes {
        sha256: hex::encode(whole.finalize()),
        sha256_data: data.map(|h| hex::encode(h.finalize())),
        bytes_read: pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_digests_and_splits_at_offset() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        // Straddle the read size so the offset logic crosses chunk borders.
        let body: Vec<u8> = (0..(READ_SIZE + 1000))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(&p, &body).unwrap();
        for off in [0u64, 5, READ_SIZE as u64 - 1, READ_SIZE as u64 + 3] {
            let h = hash_file(&p, Some(off), &|_| {}).unwrap();
            assert_eq!(h.sha256, hex::encode(Sha256::digest(&body)));
            assert_eq!(
                h.sha256_data.unwrap(),
                hex::encode(Sha256::digest(&body[off as usize..]))
            );
        }
        std::fs::write(&p, b"abc").unwrap();
        let h = hash_file(&p, None, &|_| {}).unwrap();
        assert_eq!(
            h.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h.autov2(), "ba7816bf8f");
        assert_eq!(h.autov3(), None);
    }

    #[test]
    fn real_lora_sample_has_civitai_hashes() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/gen_fixture_style_xl.safetensors");
        let h = hash_file(&p, Some(37552), &|_| {}).unwrap();
        assert_eq!(h.autov2(), "402e966ce5");
        assert_eq!(
            h.sha256,
            "402e966ce556f066d5391c4c9acf8532c9b4eac2c0812b8e6f762e541e2a510f"
        );
        assert_eq!(h.autov3().unwrap(), "8a948f6924cf");
        assert_eq!(
            h.sha256_data.unwrap(),
            "8a948f6924cfd9fcd5fb73242175e1963a63cd9ad67b08825c42bec14b3ad7d8"
        );
    }
}
