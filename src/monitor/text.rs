//! The resources line of the terminal summary: means with peaks, the figures a reader
//! checks first. The summary itself (and everything else shown) belongs to `report`.

use super::series::{MeanPeak, ResourceSeries};
use crate::report::format;

/// `cpu 45 % (peak 80 %, iowait 3 %, steal 0 %); plimsoll 0.52 cores (peak 0.61); ...`
pub fn summary_line(r: &ResourceSeries) -> String {
    let s = &r.summary;
    let mut parts = vec![
        format!(
            "cpu {} (peak {}, iowait {}, steal {})",
            pct(s.cpu_busy_pct.mean),
            pct(s.cpu_busy_pct.peak),
            pct(s.cpu_iowait_pct.mean),
            pct(s.cpu_steal_pct.mean)
        ),
        format!("plimsoll {}", cores(s.plimsoll_cpu_cores)),
        format!(
            "memory used {} (least available {})",
            format::bytes(s.memory_used_bytes.peak),
            format::bytes(s.memory_available_min_bytes as f64)
        ),
    ];
    parts.extend(s.devices.iter().map(|d| {
        format!(
            "{} {} r/s {} w/s, util {} (peak {})",
            d.device,
            format::count(d.reads_per_s.mean),
            format::count(d.writes_per_s.mean),
            pct(d.utilisation_pct.mean),
            pct(d.utilisation_pct.peak)
        )
    }));
    parts.extend(s.watched.iter().map(|w| {
        let rss = format::bytes(w.rss_bytes.peak);
        format!("{} {}, rss {rss}", w.watch, cores(w.cpu_cores))
    }));
    parts.join("; ")
}

fn pct(value: f64) -> String {
    format!("{value:.0} %")
}

fn cores(m: MeanPeak) -> String {
    format!("{:.2} cores (peak {:.2})", m.mean, m.peak)
}
