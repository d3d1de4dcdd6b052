//! The presets room's errors. Each names what the user must fix (the file,
//! the key, the model); [`GenError`] conversion picks the exit status so a
//! command can pass them on with `?`.

use std::path::PathBuf;

use crate::error::{GenError, Status};

use super::required::MissingFile;

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// A presets file that is not valid TOML or has a key we do not know.
    #[error("presets file {file}: {message}")]
    File { file: PathBuf, message: String },

    /// A value out of range or inconsistent; `origin` says whose it is (a
    /// file, a model row, the command line).
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },

    #[error("unknown preset key '{0}' (known: {keys})", keys = super::KEYS.join(", "))]
    UnknownKey(String),

    #[error("{key}={value}: {message}")]
    BadValue {
        key: String,
        value: String,
        message: String,
    },

    #[error("'{0}' is not of the form KEY=VALUE")]
    NotAnAssignment(String),

    #[error(
        "unknown level '{0}' (expected one of: fast, balanced, high, ultra; speed and quality also work)"
    )]
    UnknownLevel(String),

    #[error("{model} has no known base model, so it has no presets")]
    UnknownBase { model: String },

    #[error("{model} has not been hashed yet, and presets are kept by SHA-256")]
    NotHashed { model: String },

    #[error(transparent)]
    Missing(#[from] MissingFile),

    #[error("presets database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl From<PresetError> for GenError {
    fn from(err: PresetError) -> GenError {
        let status = match &err {
            PresetError::Db(_) => Status::Failure,
            PresetError::Missing(_) => Status::NothingFound,
            _ => Status::Usage,
        };
        let hint = match &err {
            PresetError::File { .. } => {
                Some("the header of the built-in presets.toml lists every key".to_string())
            }
            PresetError::UnknownKey(_) | PresetError::BadValue { .. } => {
                Some("see `gen presets show MODEL` for the keys and values in use".to_string())
            }
            PresetError::NotHashed { .. } => Some("run `gen index` first".to_string()),
            PresetError::Missing(m) => Some(m.hint()),
            _ => None,
        };
        let gen_error = GenError::new(status, err.to_string());
        match hint {
            Some(h) => gen_error.with_hint(h),
            None => gen_error,
        }
    }
}
