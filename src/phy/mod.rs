//! Physical layer: the `Device` trait, its backends and middlewares.
