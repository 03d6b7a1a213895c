//! One log style for every subcommand, on stderr: what `post` reports is a line of plain text,
//! `<command>: <message>` for progress and notes, prefixed with `warning: ` or `error: ` (the prefix
//! the final error line has too) when it is one. `-v` adds debug lines and a UTC timestamp to every
//! line; `-q` leaves errors only. `RUST_LOG` overrides the levels.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The level filter `-v`/`-q` ask for.
fn level(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    }
}

/// Installs the subscriber: `-q` errors only, default info, `-v` debug, `-vv` trace.
pub fn init(verbose: u8, quiet: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level(verbose, quiet)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(Plain { timestamps: verbose > 0 })
        .init();
}

/// `[time ]prefix message`: no level for info lines, `warning: `, `error: `, `debug: `, `trace: `.
struct Plain {
    timestamps: bool,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        if self.timestamps {
            tracing_subscriber::fmt::time::FormatTime::format_time(
                &tracing_subscriber::fmt::time::SystemTime,
                &mut writer,
            )?;
            write!(writer, " ")?;
        }
        write!(writer, "{}", prefix(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn prefix(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error: ",
        Level::WARN => "warning: ",
        Level::INFO => "",
        Level::DEBUG => "debug: ",
        Level::TRACE => "trace: ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_is_errors_only_and_info_lines_are_bare() {
        assert_eq!(level(0, true), "error");
        assert_eq!(level(3, true), "error");
        assert_eq!(level(0, false), "info");
        assert_eq!(level(1, false), "debug");
        assert_eq!(prefix(Level::INFO), "");
        assert_eq!(prefix(Level::WARN), "warning: ");
        assert_eq!(prefix(Level::ERROR), "error: ");
    }
}
