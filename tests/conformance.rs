//! Runs the shared conformance scripts through the drill engine.

#[allow(dead_code)]
#[path = "../examples/drill/engine.rs"]
mod engine;
