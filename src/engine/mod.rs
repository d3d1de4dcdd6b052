//! The rendering engine (DESIGN §5): candle networks, their loading, noise,
//! schedules and samplers.

pub mod models;
