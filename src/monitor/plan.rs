//! What the sampler reads: the block devices and the watched processes, settled before load.

use std::fmt;

use crate::workload::MonitorSpec;

/// A process to follow, as the workload named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    Pid(u32),
    /// Every process of this name, matched against the kernel's name (`comm`).
    Name(String),
}

impl Watch {
    /// The kernel keeps the first 15 bytes of a process name; a longer name in the workload
    /// is matched on those.
    pub fn kernel_name(name: &str) -> &str {
        let mut end = name.len().min(15);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        &name[..end]
    }
}

impl fmt::Display for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Watch::Pid(pid) => write!(f, "pid {pid}"),
            Watch::Name(name) => write!(f, "name {name}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorPlan {
    /// Kernel names of block devices, as `/proc/diskstats` lists them, without repeats.
    pub devices: Vec<String>,
    pub watch: Vec<Watch>,
}

impl MonitorPlan {
    /// The plan for a run, or `None` when the workload turns sampling off. `job_devices` are
    /// the devices behind the disk jobs' targets; the workload may name more.
    pub fn new(spec: &MonitorSpec, job_devices: impl IntoIterator<Item = String>) -> Option<Self> {
        if !spec.enabled {
            return None;
        }
        let mut devices: Vec<String> = Vec::new();
        for device in job_devices.into_iter().chain(spec.devices.iter().cloned()) {
            if !devices.contains(&device) {
                devices.push(device);
            }
        }
        let watch = spec.watch.iter().filter_map(|w| w.to_watch()).collect();
        Some(MonitorPlan { devices, watch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_like_the_kernel_cuts_them() {
        assert_eq!(Watch::kernel_name("redis-server"), "redis-server");
        assert_eq!(
            Watch::kernel_name("postgres-checkpointer"),
            "postgres-checkp"
        );
        assert_eq!(Watch::kernel_name("ééééééééé"), "ééééééé");
    }
}
