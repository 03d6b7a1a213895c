//! Shows the progress of long library operations on stderr: an indicatif bar with labels/s, bytes
//! written, ETA and the best VRF nonce when stderr is a terminal, plain log lines (at most one every
//! few seconds, plus one per finished file) when it is not.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use post_init::{Event, ProgressSink};

/// How often plain log lines are written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// A [`ProgressSink`] that draws a bar or writes log lines.
#[derive(Debug)]
pub struct Progress {
    /// What is being done, e.g. `init` or `verify`.
    what: &'static str,
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    total: u64,
    done: u64,
    /// Labels counted by this run (not those found on disk), for the rate.
    this_run: u64,
    started: Instant,
    last_log: Instant,
    nonce: Option<u64>,
}

impl Progress {
    /// A sink for the operation `what`; a bar when stderr is a terminal, `quiet` is false and info logs
    /// are on (`post -q` turns them off).
    pub fn new(what: &'static str, quiet: bool) -> Self {
        let quiet = quiet || !tracing::enabled!(tracing::Level::INFO);
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {percent:>3}% {human_pos}/{human_len} labels \
                 {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(what);
            bar
        });
        let now = Instant::now();
        Self {
            what,
            bar,
            state: Mutex::new(State { total: 0, done: 0, this_run: 0, started: now, last_log: now, nonce: None }),
        }
    }

    /// Removes the bar (call before printing results).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn log_line(&self, s: &State) -> String {
        let secs = s.started.elapsed().as_secs_f64().max(1e-9);
        let rate = s.this_run as f64 / secs;
        let left = s.total.saturating_sub(s.done);
        let eta = if rate > 0.0 { format!("{:.0}s", left as f64 / rate) } else { "unknown".into() };
        let pct = if s.total == 0 { 100.0 } else { s.done as f64 * 100.0 / s.total as f64 };
        let nonce = s.nonce.map_or_else(|| "none yet".into(), |n| n.to_string());
        format!(
            "{}: {pct:.1}% ({}/{} labels), {rate:.0} labels/s, {} written, ETA {eta}, VRF nonce {nonce}",
            self.what,
            s.done,
            s.total,
            indicatif::HumanBytes(s.this_run * 16)
        )
    }

    fn message(&self, s: &State) -> String {
        let nonce = s.nonce.map_or_else(|| "-".into(), |n| n.to_string());
        format!("{} written, VRF nonce {nonce}", indicatif::HumanBytes(s.this_run * 16))
    }

    /// Prints a line above the bar, or logs it.
    fn note(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => tracing::info!("{line}"),
        }
    }
}

impl ProgressSink for Progress {
    fn event(&self, event: &Event) {
        let mut s = self.state.lock();
        match event {
            Event::InitStarted { total_labels, done_labels } => {
                s.total = *total_labels;
                s.done = *done_labels;
                s.this_run = 0;
                s.started = Instant::now();
                if let Some(bar) = &self.bar {
                    bar.set_length(*total_labels);
                    bar.set_position(*done_labels);
                    bar.reset_eta();
                }
                if *done_labels > 0 {
                    self.note(format!(
                        "{}: resuming, {done_labels} of {total_labels} labels already on disk",
                        self.what
                    ));
                }
            }
            Event::VerifyStarted { total_labels } => {
                s.total = *total_labels;
                s.done = 0;
                s.this_run = 0;
                s.started = Instant::now();
                if let Some(bar) = &self.bar {
                    bar.set_length(*total_labels);
                    bar.set_position(0);
                    bar.reset_eta();
                }
            }
            Event::LabelsWritten { labels } | Event::LabelsChecked { labels } => {
                s.done += labels;
                s.this_run += labels;
                match &self.bar {
                    Some(bar) => {
                        bar.set_position(s.done);
                        bar.set_message(self.message(&s));
                    }
                    None if s.last_log.elapsed() >= LOG_EVERY => {
                        s.last_log = Instant::now();
                        tracing::info!("{}", self.log_line(&s));
                    }
                    None => {}
                }
            }
            Event::NewVrfNonce { index, label } => {
                s.nonce = Some(index.0);
                if let Some(bar) = &self.bar {
                    bar.set_message(self.message(&s));
                }
                tracing::debug!("new best VRF nonce {} (label {})", index.0, hex::encode(label));
            }
            Event::FileCompleted { path } if self.bar.is_none() => {
                tracing::info!("{}: {} complete; {}", self.what, path.display(), self.log_line(&s));
            }
            Event::TornTailCut { path, from_len, to_len } => self.note(format!(
                "{}: cut the torn last label of {} ({from_len} -> {to_len} bytes), left by an interrupted write",
                self.what,
                path.display()
            )),
            Event::TailRewritten { path, from, to } => self.note(format!(
                "{}: bytes {from}..{to} of {} do not hold the right labels (a write lost in a crash or power \
                 loss) while the file's first labels are right; they are rewritten",
                self.what,
                path.display()
            )),
            Event::CheckedPastMark { path, mark, checked, first_bad: Some(bad) } => self.note(format!(
                "{}: {}: of the {checked} labels written after byte {mark} (the last sync), the one at byte {bad} is \
                 wrong (lost in a power cut); the file is written again from there",
                self.what,
                path.display()
            )),
            Event::CheckedPastMark { path, mark, checked, first_bad: None } => tracing::debug!(
                "{}: {}: the {checked} labels written after byte {mark} (the last sync) are right",
                self.what,
                path.display()
            ),
            Event::DurableMarksSetAside { path, to, reason } => self.note(format!(
                "{}: {} cannot be used ({reason}); renamed to {} — files are checked where they end only; \
                 run `post verify-data --all` after this init to check every label",
                self.what,
                path.display(),
                to.display()
            )),
            Event::NonceSearchBeyond { from } => self.note(format!(
                "{}: no label of the data is below the VRF difficulty; searching labels from {} on",
                self.what, from.0
            )),
            _ => {}
        }
    }
}
