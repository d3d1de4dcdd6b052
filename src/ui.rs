//! The one place that decides what goes where: results to stdout, everything
//! else (progress, warnings, summaries) to stderr. `-q` silences all but
//! errors; progress bars draw only when stderr is a terminal.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub color: bool,
}

impl Printer {
    pub fn new(json: bool, quiet: bool, verbose: u8) -> Self {
        let color =
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stderr().is_terminal();
        Printer {
            json,
            quiet,
            verbose,
            color,
        }
    }

    /// One line of result on stdout.
    pub fn out(&self, line: impl AsRef<str>) {
        let mut o = io::stdout().lock();
        // A closed pipe (`gen models list | head`) is not an error worth a panic.
        let _ = writeln!(o, "{}", line.as_ref());
    }

    /// A JSON document on stdout.
    pub fn out_json<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.out(text);
        Ok(())
    }

    /// A status line on stderr (hidden by -q).
    pub fn info(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    /// Detail shown only with -v.
    pub fn debug(&self, line: impl AsRef<str>) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    pub fn warn(&self, line: impl AsRef<str>) {
        if !self.quiet {
            let tag = if self.color {
                "\x1b[33mwarning\x1b[0m"
            } else {
                "warning"
            };
            eprintln!("{tag}: {}", line.as_ref());
        }
    }

    pub fn error(&self, line: impl AsRef<str>) {
        let tag = if self.color {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        eprintln!("{tag}: {}", line.as_ref());
    }

    /// A byte-counting progress bar on stderr, hidden unless stderr is a
    /// terminal and -q is off.
    pub fn bytes_bar(&self, total: u64, message: &str) -> ProgressBar {
        if self.quiet || !io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>8} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}
