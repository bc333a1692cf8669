//! Caller-chosen storage: ring buffers for socket data and the out-of-order
//! assembler (DESIGN.md rule 5).
