//! Exit codes shared by the subcommands (the README lists them).

/// Stopped by Ctrl-C or SIGTERM with the state saved: run the same command again to continue.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The command did its work or its check, but the data is not complete (`post init --dir` finishes it).
pub const EXIT_INCOMPLETE: u8 = 3;

/// `post prove` found and verified a proof but could not write it to `--out`: it is on stdout instead (and
/// in the job's state file).
pub const EXIT_PROOF_NOT_WRITTEN: u8 = 4;
