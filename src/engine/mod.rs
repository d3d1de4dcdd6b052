//! The rendering engine (DESIGN §5).
pub mod noise;
