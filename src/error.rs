//! Exit statuses and the errors that carry them (DESIGN §1's contract:
//! 0 success, 1 the work failed, 2 bad usage or input, 3 nothing suitable).
//!
//! Rooms return their own `thiserror` types or `anyhow` with context; a
//! command wraps what should not exit with 1 in a [`GenError`], and `main`
//! walks the chain to find the status and the hint.

use std::fmt;

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    Failure = 1,
    Usage = 2,
    NothingFound = 3,
}

impl Status {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error with a chosen exit status and an optional hint for the user.
#[derive(Debug)]
pub struct GenError {
    pub status: Status,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GenError {}

impl GenError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        GenError {
            status,
            message: message.into(),
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Bad usage or bad input from the user (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Status::Usage, message)
    }
    /// Nothing suitable found (exit 3).
    pub fn nothing(message: impl Into<String>) -> Self {
        Self::new(Status::NothingFound, message)
    }
    /// The work failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Status::Failure, message)
    }
}

/// The status and hint an error chain asks for: the first [`GenError`] in it
/// decides; anything else is a failure (1).
pub fn status_of(err: &anyhow::Error) -> (Status, Option<&str>) {
    for cause in err.chain() {
        if let Some(g) = cause.downcast_ref::<GenError>() {
            return (g.status, g.hint.as_deref());
        }
    }
    (Status::Failure, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn status_is_found_through_context() {
        let err: anyhow::Result<()> = Err(GenError::nothing("no models")
            .with_hint("run gen index")
            .into());
        let err = err.context("choosing a checkpoint").unwrap_err();
        assert_eq!(
            status_of(&err),
            (Status::NothingFound, Some("run gen index"))
        );
        assert_eq!(status_of(&anyhow::anyhow!("disk full")).0, Status::Failure);
    }
}
