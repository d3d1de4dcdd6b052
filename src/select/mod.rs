//! Choosing: what the prompt asks for, which checkpoint, LoRAs and VAE
//! serve it best, and the plan that says why (DESIGN §4).

pub mod analysis;
pub mod ollama;
pub mod plan;
pub mod score;
