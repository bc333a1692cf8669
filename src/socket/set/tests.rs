//! The socket set on its own: handles, kinds, storage, listeners, records.

extern crate std;

use super::*;
