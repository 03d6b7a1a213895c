//! Ctrl-C and SIGTERM for the commands that write data: the first signal asks the operation to stop
//! after the batch in flight, sync and save its state; a second one exits at once (a rerun still
//! resumes).

use anyhow::Context as _;
use post_init::CancelToken;

use crate::exit::EXIT_INTERRUPTED;

/// A cancel token set by Ctrl-C or SIGTERM; a second signal exits at once.
///
/// # Errors
/// When the signal handler cannot be installed.
pub fn cancel_on_ctrl_c(what: &'static str) -> anyhow::Result<CancelToken> {
    let token = CancelToken::new();
    let handler_token = token.clone();
    ctrlc::set_handler(move || {
        if handler_token.is_cancelled() {
            tracing::warn!("{what}: stopping now; run the same command again to resume");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        tracing::warn!("{what}: stopping after the batch in flight (press Ctrl-C again to quit at once)");
        handler_token.cancel();
    })
    .context("installing the Ctrl-C handler")?;
    Ok(token)
}
