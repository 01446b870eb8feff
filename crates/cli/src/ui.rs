//! Output for people and scripts: progress bars on a terminal only,
//! `--quiet`, `--json` summaries on stdout.

use chemomech_core::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How the command talks to its user.
pub struct Ui {
    pub quiet: bool,
    pub json: bool,
    pub verbose: u8,
    tty: bool,
}

impl Ui {
    pub fn new(quiet: bool, json: bool, verbose: u8) -> Self {
        Self { quiet, json, verbose, tty: std::io::stderr().is_terminal() }
    }
    /// An informational line on stderr (not in quiet or JSON mode).
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", msg.as_ref());
        }
    }
    /// A summary's `warnings` on stderr, one `warning: …` line each (also
    /// with `--json`, where they are in the summary too; not with `--quiet`).
    pub fn warnings(&self, summary: &serde_json::Value) {
        if self.quiet {
            return;
        }
        for w in summary["warnings"].as_array().into_iter().flatten().filter_map(|w| w.as_str()) {
            eprintln!("warning: {w}");
        }
    }
    /// The final result: JSON on stdout with `--json`, else the human text.
    pub fn result(&self, json: &serde_json::Value, human: impl FnOnce() -> String) {
        // Write errors are ignored: a reader that closed the pipe early
        // (`| head`) is not a failure of the command.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(json).unwrap_or_default());
        } else if !self.quiet {
            let _ = write!(out, "{}", human());
        }
        let _ = out.flush();
    }
    /// A progress bar, drawn only on a terminal and when not quiet.
    pub fn progress(&self) -> Bar {
        let pb = ProgressBar::hidden();
        if self.tty && !self.quiet {
            pb.set_draw_target(ProgressDrawTarget::stderr());
        }
        pb.set_style(
            ProgressStyle::with_template("{msg:>14} [{bar:36}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar(pb)
    }
}

/// A [`Progress`] drawn with indicatif.
pub struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, label: &str, total: u64) {
        self.0.set_message(label.to_string());
        self.0.set_length(total);
        self.0.set_position(0);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
