//! gen: a ComfyUI model library turned into a zero-configuration image
//! generator. The binary (`src/main.rs`) only parses and dispatches; every
//! room lives here so tests and benchmarks can use it.

pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod ui;
