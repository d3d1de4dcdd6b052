//! Merged weights against the Python reference.
