//! plimsoll: storage performance benchmarking and load generation.
//!
//! One run is one pipe: a workload file is loaded and checked ([`workload`]), jobs run with
//! their drivers while workers record into the measurement path ([`measure`]), the runner
//! gathers [`results`], and renderers ([`report`]) show them.

pub mod drivers;
pub mod measure;
pub mod workload;
