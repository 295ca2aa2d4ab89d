//! The live progress line: elapsed and remaining time, rate, bandwidth, last p99, errors.
//! Shown only on a terminal; the runner decides that, this module only draws.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::format;
use crate::measure::{Clock, LiveView};

pub struct Progress {
    bar: ProgressBar,
    clock: Clock,
    started: Instant,
}

impl Progress {
    pub fn start(workload: &str, clock: Clock) -> Self {
        let started = Instant::now();
        let total = clock.measure_end.saturating_duration_since(started);
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis() as u64),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        let style = ProgressStyle::with_template("{prefix} {elapsed:>3} {bar:24} {msg}")
            .expect("constant template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(workload.to_owned());
        Progress {
            bar,
            clock,
            started,
        }
    }

    pub fn update(&mut self, live: LiveView, stopping: bool) {
        let now = Instant::now();
        self.bar
            .set_position(now.saturating_duration_since(self.started).as_millis() as u64);
        let phase = if stopping {
            "stopping"
        } else if now < self.clock.measure_start {
            "warmup"
        } else {
            "measuring"
        };
        let remaining = self.clock.measure_end.saturating_duration_since(now);
        let seconds = self.clock.interval.as_secs_f64();
        self.bar.set_message(format!(
            "{phase} {} left | {} op/s | {}/s | p99 {} | errors {}",
            humantime::format_duration(Duration::from_secs(remaining.as_secs())),
            format::count(live.ops as f64 / seconds),
            format::bytes(live.bytes as f64 / seconds),
            format::latency(live.p99_ns),
            live.errors,
        ));
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
