//! The signal that stops the HTTP services (`post k2pow-service`, `post certifier`): SIGTERM or SIGINT,
//! awaited on their tokio runtime.

/// Resolves on the first SIGTERM or SIGINT. When a handler cannot be installed, that signal keeps its
/// default action (the process ends) and the other one still works.
pub async fn terminated() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
