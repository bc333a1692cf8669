//! Sockets: sans-IO protocol state machines driven by the interface.
