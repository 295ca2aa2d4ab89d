//! The search, apart from running anything: which load to try next, given how the loads tried
//! so far were judged, and when to stop.
//!
//! Loads grow by a factor from the start until one fails (an objective broke, throughput
//! stopped rising, or the generator could not keep up); a start that fails is followed by
//! loads shrinking by the same factor until one passes. Then the bracket between the highest
//! passing and lowest failing load is halved until it is within the tolerance. A load that
//! does not pass can be run once more before it counts: a stall of the machine only ever
//! makes a step look worse, never better, so the better of two runs is the target's. The
//! caller runs each load and bounds the number of steps and the time.

use super::knob::Knob;

/// Throughput must rise by at least this share of the load's proportional rise for a step to
/// count as gaining: doubling the load must add at least half as much throughput again.
const GAIN_SHARE: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// An objective broke.
    Fail,
    /// Every objective held, but throughput rose by less than [`GAIN_SHARE`] of the load's
    /// proportional rise over the highest passing load: the target is saturated.
    NoGain,
    /// The open model's rate was not kept and the generator, not the target, was the limit.
    GeneratorLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Grow,
    Down,
    Bisect,
    /// The same load again, after it did not pass.
    Retry,
}

/// Why the search ended by its own rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The bracket is within the tolerance (or, for a whole-number knob, one apart).
    Converged,
    /// Every load up to the knob's largest value passed.
    KnobLimit,
    /// Not even the knob's smallest value passed.
    NothingPassed,
    /// The bracket converged below a load the generator could not offer.
    GeneratorLimit,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Run { load: f64, phase: Phase },
    Done(End),
}

/// One judged step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The caller's index of the step.
    pub step: usize,
    pub load: f64,
    pub throughput: f64,
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
pub struct Search {
    knob: Knob,
    factor: f64,
    tolerance: f64,
    next: Next,
    lo: Option<Point>,
    hi: Option<Point>,
    /// Whether a load that did not pass runs once more before it counts.
    retry: bool,
    /// The phase a retry interrupted.
    retried: Option<Phase>,
}

impl Search {
    /// `factor` above 1; `tolerance` a fraction of the bracket's lower end; `retry` whether a
    /// load that did not pass runs once more before it counts.
    pub fn new(knob: Knob, start: f64, factor: f64, tolerance: f64, retry: bool) -> Search {
        let start = knob.clamp(start);
        Search {
            knob,
            factor,
            tolerance,
            next: Next::Run {
                load: start,
                phase: Phase::Grow,
            },
            lo: None,
            hi: None,
            retry,
            retried: None,
        }
    }

    pub fn next(&self) -> Next {
        self.next
    }

    /// The highest load that passed so far.
    pub fn best(&self) -> Option<Point> {
        self.lo
    }

    /// The lowest load above [`best`](Self::best) that did not pass.
    pub fn first_failing(&self) -> Option<Point> {
        self.hi
    }

    /// How a step at `load` fares: `met` whether every objective held, `generator_limited`
    /// whether the generator could not offer the load.
    pub fn judge(&self, load: f64, throughput: f64, met: bool, generator_limited: bool) -> Verdict {
        if generator_limited {
            return Verdict::GeneratorLimit;
        }
        if !met {
            return Verdict::Fail;
        }
        match self.lo {
            Some(lo) if load > lo.load && !gained(&lo, load, throughput) => Verdict::NoGain,
            _ => Verdict::Pass,
        }
    }

    /// Takes the judged step for the load [`next`](Self::next) asked for.
    pub fn record(&mut self, point: Point) {
        let Next::Run { phase, .. } = self.next else {
            return;
        };
        let passed = point.verdict == Verdict::Pass;
        if !passed && self.retry && phase != Phase::Retry {
            self.retried = Some(phase);
            self.next = self.run(point.load, Phase::Retry);
            return;
        }
        let phase = match phase {
            Phase::Retry => self.retried.take().unwrap_or(Phase::Grow),
            phase => phase,
        };
        if passed {
            self.lo = Some(point);
        } else {
            self.hi = Some(point);
        }
        self.next = match (phase, passed) {
            (Phase::Grow, true) if point.load >= self.knob.max => Next::Done(End::KnobLimit),
            (Phase::Grow, true) => self.run(self.up(point.load), Phase::Grow),
            (Phase::Grow | Phase::Down, false) if self.lo.is_none() => {
                if point.load <= self.knob.min {
                    Next::Done(End::NothingPassed)
                } else {
                    self.run(self.down(point.load), Phase::Down)
                }
            }
            _ => self.bisect(),
        };
    }

    fn run(&self, load: f64, phase: Phase) -> Next {
        Next::Run { load, phase }
    }

    fn bisect(&self) -> Next {
        let (Some(lo), Some(hi)) = (self.lo, self.hi) else {
            return Next::Done(End::Converged);
        };
        let mid = self.midpoint(lo.load, hi.load);
        let within = (hi.load - lo.load) <= self.tolerance * lo.load;
        match mid {
            Some(mid) if !within => self.run(mid, Phase::Bisect),
            _ if hi.verdict == Verdict::GeneratorLimit => Next::Done(End::GeneratorLimit),
            _ => Next::Done(End::Converged),
        }
    }

    /// Halfway, or nothing when a whole-number knob has no value strictly between.
    fn midpoint(&self, lo: f64, hi: f64) -> Option<f64> {
        let mid = (lo + hi) / 2.0;
        if !self.knob.kind.integer() {
            return Some(mid);
        }
        let mid = mid.round();
        (mid > lo && mid < hi).then_some(mid)
    }

    fn up(&self, load: f64) -> f64 {
        let grown = load * self.factor;
        let grown = if self.knob.kind.integer() {
            grown.ceil().max(load + 1.0)
        } else {
            grown
        };
        self.knob.clamp(grown)
    }

    fn down(&self, load: f64) -> f64 {
        let shrunk = load / self.factor;
        let shrunk = if self.knob.kind.integer() {
            shrunk.floor().min(load - 1.0)
        } else {
            shrunk
        };
        self.knob.clamp(shrunk)
    }
}

/// Whether throughput at `load` rose by at least [`GAIN_SHARE`] of the load's proportional
/// rise over `lo`.
pub(crate) fn gained(lo: &Point, load: f64, throughput: f64) -> bool {
    if lo.throughput <= 0.0 {
        return throughput > 0.0;
    }
    let load_rise = load / lo.load - 1.0;
    let rise = throughput / lo.throughput - 1.0;
    rise >= GAIN_SHARE * load_rise
}

impl Knob {
    pub fn clamp(&self, load: f64) -> f64 {
        let load = if self.kind.integer() {
            load.round()
        } else {
            load
        };
        load.clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::super::knob::KnobKind;
    use super::*;

    /// Runs the search against `target` (load to throughput and whether the objective held,
    /// whether the generator kept up), at most 40 steps; returns the steps and the end.
    fn search(knob: Knob, target: impl Fn(f64) -> (f64, bool, bool)) -> (Search, Vec<Point>, End) {
        let mut s = Search::new(knob, knob.start, 2.0, 0.05, false);
        let mut steps = Vec::new();
        for step in 0..40 {
            let load = match s.next() {
                Next::Run { load, .. } => load,
                Next::Done(end) => return (s, steps, end),
            };
            let (throughput, met, generator) = target(load);
            let verdict = s.judge(load, throughput, met, generator);
            let point = Point {
                step,
                load,
                throughput,
                verdict,
            };
            steps.push(point);
            s.record(point);
        }
        panic!("the search did not end in 40 steps: {steps:?}");
    }

    fn rate(start: f64) -> Knob {
        Knob {
            kind: KnobKind::Rate,
            start,
            min: 1.0,
            max: 1e9,
        }
    }

    fn depth(start: f64, max: f64) -> Knob {
        Knob {
            kind: KnobKind::QueueDepth,
            start,
            min: 1.0,
            max,
        }
    }

    #[test]
    fn an_open_model_capacity_is_bracketed_within_the_tolerance() {
        let capacity = 437.0;
        let (s, steps, end) = search(rate(100.0), |r| (r.min(capacity), r <= capacity, false));
        assert_eq!(end, End::Converged);
        let (best, fail) = (s.best().unwrap(), s.first_failing().unwrap());
        assert!(
            best.load <= capacity && best.load >= capacity / 1.05,
            "{steps:?}"
        );
        assert!(
            fail.load > capacity && fail.load <= best.load * 1.05,
            "{steps:?}"
        );
        // Geometric up to the first failure, then bisection.
        assert_eq!(
            steps[..4].iter().map(|p| p.load).collect::<Vec<_>>(),
            [100.0, 200.0, 400.0, 800.0]
        );
    }

    #[test]
    fn a_closed_model_stops_where_throughput_stops_rising() {
        // Four servers at 10 ms: 100/s per unit of concurrency up to 4; nothing breaks.
        let (s, steps, end) = search(depth(1.0, 1024.0), |n| (n.min(4.0) * 100.0, true, false));
        assert_eq!(end, End::Converged);
        assert_eq!(s.best().unwrap().load, 4.0, "{steps:?}");
        assert_eq!(s.first_failing().unwrap().load, 5.0, "{steps:?}");
        assert_eq!(s.first_failing().unwrap().verdict, Verdict::NoGain);
    }

    #[test]
    fn a_failing_start_walks_down_first() {
        let (s, steps, end) = search(rate(10_000.0), |r| (r.min(300.0), r <= 300.0, false));
        assert_eq!(end, End::Converged);
        assert_eq!(steps[1].load, 5_000.0);
        let best = s.best().unwrap().load;
        assert!((300.0 / 1.05..=300.0).contains(&best), "{steps:?}");
    }

    #[test]
    fn a_failure_that_does_not_repeat_is_overruled() {
        let mut s = Search::new(rate(100.0), 100.0, 2.0, 0.05, true);
        let mut loads = Vec::new();
        // 200/s fails once (a stall), then passes; 400/s fails twice.
        let mut verdicts = [true, false, true, false, false].into_iter();
        while let Next::Run { load, phase } = s.next() {
            let Some(met) = verdicts.next() else { break };
            loads.push((load, phase));
            let verdict = s.judge(load, load, met, false);
            let step = loads.len() - 1;
            s.record(Point {
                step,
                load,
                throughput: load,
                verdict,
            });
        }
        let expected = [
            (100.0, Phase::Grow),
            (200.0, Phase::Grow),
            (200.0, Phase::Retry),
            (400.0, Phase::Grow),
            (400.0, Phase::Retry),
        ];
        assert_eq!(loads, expected);
        assert_eq!(s.best().map(|p| p.load), Some(200.0));
        assert_eq!(
            s.next(),
            Next::Run {
                load: 300.0,
                phase: Phase::Bisect
            }
        );
    }

    #[test]
    fn every_search_ends_with_its_reason() {
        let (_, _, end) = search(rate(100.0), |_| (0.0, false, false));
        assert_eq!(end, End::NothingPassed);
        let (s, _, end) = search(depth(1.0, 64.0), |n| (n * 10.0, true, false));
        assert_eq!((end, s.best().unwrap().load), (End::KnobLimit, 64.0));
        let (s, _, end) = search(rate(100.0), |r| (r.min(250.0), true, r > 250.0));
        assert_eq!(end, End::GeneratorLimit);
        assert!(s.best().unwrap().load <= 250.0);
    }
}
