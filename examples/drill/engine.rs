//! The script runner's engine (work in progress).

#[path = "parser.rs"]
pub mod parser;
