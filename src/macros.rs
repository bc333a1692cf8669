//! Logging macros that compile to nothing without the `log` feature.

/// Debug-level log line; a no-op without the `log` feature.
#[cfg(feature = "log")]
macro_rules! net_debug {
    ($($arg:tt)*) => { log::debug!($($arg)*) };
}

/// Debug-level log line; a no-op without the `log` feature.
#[cfg(not(feature = "log"))]
macro_rules! net_debug {
    ($($arg:tt)*) => {{
        // Evaluate nothing, but keep the arguments type-checked.
        if false {
            let _ = core::format_args!($($arg)*);
        }
    }};
}

/// Trace-level log line; a no-op without the `log` feature.
#[cfg(feature = "log")]
macro_rules! net_trace {
    ($($arg:tt)*) => { log::trace!($($arg)*) };
}

/// Trace-level log line; a no-op without the `log` feature.
#[cfg(not(feature = "log"))]
macro_rules! net_trace {
    ($($arg:tt)*) => {{
        if false {
            let _ = core::format_args!($($arg)*);
        }
    }};
}
