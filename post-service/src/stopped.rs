//! Why the proving service stopped without an error.

/// Why the service stopped without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// The `--watch-pid` process is gone.
    WatchedProcessGone,
}
