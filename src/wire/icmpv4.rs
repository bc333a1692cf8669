//! Placeholder: the wire helper fills this module in.
