//! The `[monitor]` table: which processes and devices the sampler follows, and whether it
//! runs at all. Sampling follows the workload's `interval`, so its rows line up with the
//! latency intervals; there is no separate interval to set.

use serde::{Deserialize, Serialize};
use toml::de::DeTable;

use super::names::fields;
use super::schema::{list_of_tables, unknown_keys};
use super::spans::{FieldPath, Finding};
use crate::monitor::Watch;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// Sample resources beside the load. Default true; false leaves the results without a
    /// `resources` section and skips the checks that need it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Processes to follow, each `{ pid = 1234 }` or `{ name = "redis-server" }`.
    #[serde(default)]
    pub watch: Vec<WatchSpec>,
    /// More block devices to follow, by kernel name (`vda`, `nvme0n1`), besides those behind
    /// the disk jobs.
    #[serde(default)]
    pub devices: Vec<String>,
}

impl Default for MonitorSpec {
    fn default() -> Self {
        MonitorSpec {
            enabled: true,
            watch: Vec::new(),
            devices: Vec::new(),
        }
    }
}

/// One watched process: by pid, or every process with this name. Exactly one of the two.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The process name as `ps -o comm` shows it; the kernel keeps 15 bytes of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl WatchSpec {
    pub fn to_watch(&self) -> Option<Watch> {
        match (self.pid, &self.name) {
            (Some(pid), None) => Some(Watch::Pid(pid)),
            (None, Some(name)) => Some(Watch::Name(name.clone())),
            _ => None,
        }
    }
}

fn yes() -> bool {
    true
}

/// Unknown keys in `[monitor]` and in its `watch` entries.
pub(super) fn check_keys(root: &DeTable) -> Vec<Finding> {
    let Some(table) = root.get("monitor").and_then(|m| m.get_ref().as_table()) else {
        return Vec::new();
    };
    let path = FieldPath::root().key("monitor");
    let mut findings = unknown_keys(table, fields::<MonitorSpec>(), &path, "`monitor`");
    findings.extend(list_of_tables(table, &path, "watch", fields::<WatchSpec>()));
    findings
}

/// Each watch names exactly one process or name; device names are bare kernel names.
pub(super) fn check(spec: &MonitorSpec) -> Vec<Finding> {
    let path = FieldPath::root().key("monitor");
    let watches = spec.watch.iter().enumerate();
    let mut findings: Vec<Finding> = watches
        .filter_map(|(i, w)| check_watch(w, path.key("watch").index(i)))
        .collect();
    for (i, device) in spec.devices.iter().enumerate() {
        if device.is_empty() || device.contains('/') {
            let message = format!(
                "device `{device}` is not a kernel device name; write it as /proc/diskstats \
                 lists it, like `vda` or `nvme0n1`, without `/dev/`"
            );
            findings.push(Finding::at(path.key("devices").index(i), message));
        }
    }
    findings
}

fn check_watch(watch: &WatchSpec, path: FieldPath) -> Option<Finding> {
    let message = match (watch.pid, watch.name.as_deref()) {
        (Some(_), Some(_)) => "a watch takes `pid` or `name`, not both; split it into two entries",
        (None, None) => {
            "a watch needs `pid` or `name`, like `{ pid = 1234 }` or `{ name = \"redis-server\" }`"
        }
        (Some(0), None) => "pid 0 is not a process; give the pid of the process to follow",
        (None, Some("")) => "the name is empty; give the process name as `ps -o comm` shows it",
        _ => return None,
    };
    Some(Finding::at(path, message.into()))
}
