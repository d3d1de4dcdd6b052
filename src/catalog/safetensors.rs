//! Bounded, validated reading of safetensors headers (placeholder).
