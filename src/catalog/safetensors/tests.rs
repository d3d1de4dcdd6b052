//! Every way a header can be broken, each with its exact sentence, and the
//! reading of good headers.

use std::path::{Path, PathBuf};

use super::*;
use crate::catalog::testkit::{self, Broken, TensorSpec};

fn broken(dir: &Path, how: Broken) -> PathBuf {
    let path = dir.join(format!("{how:?}.safetensors"));
    testkit::write_broken(&path, how).expect("write broken fixture");
    path
}

fn error_for(how: Broken) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = broken(dir.path(), how);
    read_header(&path).expect_err("should fail").to_string()
}

#[test]
fn every_broken_fixture_has_its_own_sentence() {
    let expected = [
        (
            Broken::Empty,
            "empty file (0 bytes): not a safetensors file",
        ),
        (
            Broken::TooShort,
            "file is only 5 bytes long, too short to hold the 8-byte safetensors header length",
        ),
        (
            Broken::HeaderTooLarge,
            "declared header length of 209715200 bytes is over the 100 MiB limit: not a safetensors file, or corrupt",
        ),
        (
            Broken::HeaderPastEnd,
            "truncated file: the header length says 1000 bytes but only 9 bytes follow it",
        ),
        (
            Broken::NotUtf8,
            "header is not valid UTF-8 (invalid byte at offset 2 of the header)",
        ),
        (
            Broken::NotJson,
            "header is not valid JSON: EOF while parsing a value at line 1 column 16",
        ),
        (
            Broken::NotObject,
            "header is JSON but not an object (it is an array)",
        ),
        (
            Broken::MetadataNotObject,
            "__metadata__ is not a JSON object (it is a string)",
        ),
        (Broken::MissingDtype, "tensor 'w': missing \"dtype\""),
        (Broken::MissingShape, "tensor 'w': missing \"shape\""),
        (
            Broken::MissingOffsets,
            "tensor 'w': missing \"data_offsets\"",
        ),
        (Broken::UnknownDtype, "tensor 'w': unknown dtype \"F7\""),
        (
            Broken::OffsetsOutOfOrder,
            "tensor 'w': data_offsets [8, 0] are out of order (end before begin)",
        ),
        (
            Broken::SizeMismatch,
            "tensor 'w': shape [2, 2] of F32 needs 16 bytes but its data_offsets span 8",
        ),
        (
            Broken::NotContiguous,
            "tensor 'b': its data starts at byte 12 but the previous tensor's data ends at byte 8 (tensors must be contiguous, without gaps or overlaps)",
        ),
        (
            Broken::DataTruncated,
            "truncated file: the tensors need 16 bytes of data but only 12 bytes follow the header",
        ),
        (
            Broken::TrailingBytes,
            "3 unexpected bytes after the last tensor's data: the file is not what its header describes",
        ),
    ];
    assert_eq!(expected.len(), Broken::ALL.len());
    for (how, sentence) in expected {
        assert_eq!(error_for(how), sentence, "{how:?}");
    }
}

#[test]
fn malformed_entries_are_named() {
    let cases = [
        (
            r#"{"w":[1]}"#,
            "tensor 'w': entry is an array, not an object with dtype, shape and data_offsets",
        ),
        (
            r#"{"w":{"dtype":7,"shape":[],"data_offsets":[0,2]}}"#,
            "tensor 'w': \"dtype\" is not a string",
        ),
        (
            r#"{"w":{"dtype":"F16","shape":[-1],"data_offsets":[0,2]}}"#,
            "tensor 'w': \"shape\" is not a list of non-negative integers",
        ),
        (
            r#"{"w":{"dtype":"F16","shape":[1],"data_offsets":[0]}}"#,
            "tensor 'w': \"data_offsets\" is not a pair of non-negative integers",
        ),
        (
            r#"{"w":{"dtype":"F16","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,2]}}"#,
            "tensor 'w': shape × dtype size overflows or is not a whole number of bytes",
        ),
    ];
    for (header, sentence) in cases {
        let err = parse_header(header.as_bytes(), 8 + header.len() as u64 + 2)
            .expect_err(header)
            .to_string();
        assert_eq!(err, sentence);
    }
}

#[test]
fn a_directory_reports_the_io_error_and_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("folder.safetensors");
    std::fs::create_dir(&path).expect("mkdir");
    let err = read_header(&path).expect_err("a directory").to_string();
    assert_eq!(
        err,
        format!(
            "cannot read {}: Is a directory (os error 21)",
            path.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn permission_denied_reports_the_io_error_and_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("locked.safetensors");
    testkit::write_safetensors(&path, &[TensorSpec::new("w", Dtype::F16, &[2])], &[])
        .expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if File::open(&path).is_ok() {
        // Running as root: permissions cannot deny a read; the directory
        // test above covers the I/O error path.
        eprintln!("skipped: running with privileges that ignore file permissions");
        return;
    }
    let err = read_header(&path).expect_err("locked").to_string();
    assert_eq!(
        err,
        format!(
            "cannot read {}: Permission denied (os error 13)",
            path.display()
        )
    );
}

#[test]
fn reads_a_fixture_header_with_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ok.safetensors");
    let long = "x".repeat(10_000);
    let specs = [
        TensorSpec::new("b", Dtype::BF16, &[3, 5]),
        TensorSpec::new("a", Dtype::F8E4M3, &[7]),
        TensorSpec::new("empty", Dtype::F32, &[0]),
        TensorSpec::new("scalar", Dtype::F16, &[]),
    ];
    let offset = testkit::write_safetensors(
        &path,
        &specs,
        &[("ss_tag_frequency", long.as_str()), ("short", "kept")],
    )
    .expect("write");
    let header = read_header(&path).expect("valid");
    assert_eq!(header.data_offset(), offset);
    assert_eq!(header.file_len, offset + 30 + 7 + 2);
    let names: Vec<&str> = header.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["b", "a", "empty", "scalar"]);
    let a = header.tensor("a").expect("a");
    assert_eq!(
        (a.dtype, a.begin, a.end, a.elements()),
        (Dtype::F8E4M3, 30, 37, 7)
    );
    assert_eq!(header.tensor("scalar").map(TensorInfo::elements), Some(1));
    let meta = header.metadata.expect("metadata");
    assert_eq!(meta["short"], "kept");
    let cut = meta["ss_tag_frequency"].as_str().expect("string");
    assert_eq!(
        cut.chars().count(),
        MAX_METADATA_VALUE_CHARS + TRUNCATION_MARK.chars().count()
    );
    assert!(cut.ends_with(TRUNCATION_MARK));
}

#[test]
fn reads_a_small_tensor_and_refuses_a_large_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bias.safetensors");
    // 1.0, -2.5 and 0.0 in IEEE half precision, little-endian.
    let halves = vec![0x00, 0x3c, 0x00, 0xc1, 0x00, 0x00];
    let specs = [
        TensorSpec::new("big", Dtype::F32, &[4096]),
        TensorSpec::new("bias", Dtype::F16, &[3]).with_data(halves),
    ];
    testkit::write_safetensors(&path, &specs, &[]).expect("write");
    let header = read_header(&path).expect("valid");
    assert_eq!(
        read_small_tensor(&path, &header, "bias", 64),
        Ok(vec![1.0, -2.5, 0.0])
    );
    assert_eq!(
        read_small_tensor(&path, &header, "big", 64),
        Err("tensor 'big' holds 16384 bytes, more than the 64 allowed".to_string())
    );
    assert_eq!(
        read_small_tensor(&path, &header, "nope", 64),
        Err("no tensor named 'nope'".to_string())
    );
}

#[test]
fn half_precision_decodes_exactly() {
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xc100), -2.5);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    assert!(f16_to_f32(0x7e00).is_nan());
}

#[test]
fn dtypes_round_trip_and_label_precision() {
    for d in Dtype::ALL {
        assert_eq!(Dtype::parse(d.as_str()), Some(*d));
    }
    assert_eq!(Dtype::F8E5M2.precision(), "fp8");
    assert_eq!(Dtype::BF16.precision(), "bf16");
    assert_eq!(byte_size(&[3], Dtype::F4), None);
    assert_eq!(byte_size(&[4], Dtype::F4), Some(2));
}
