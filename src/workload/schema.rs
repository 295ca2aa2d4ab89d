//! Keys and named values, checked on the parsed tree before typed deserialization.
//!
//! serde can refuse an unknown key, but inside a tagged job it points at the `[[jobs]]` header
//! rather than the key, and it cannot suggest a spelling. So this pass walks the tree itself:
//! every key against the names the derives know ([`super::names`]), every `kind`, `pattern`
//! and `engine` against their values, each with the span of what was written. Types and
//! ranges are not its business (serde and [`super::validate`] do those).

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use super::hints::{list, suggest};
use super::names::{fields, kind_fields, kinds, variants};
use super::spans::{FieldPath, Finding};
use super::{
    Arrival, CaptureSpec, CheckSpec, CsvOrder, CustomTransaction, Distribution, Engine, FileLayout,
    HttpVersion, InitMode, IntDistribution, Isolation, Job, JourneySpec, KeyDistribution, KeySpace,
    LoadModel, LoadSpec, MixEntry, MixOp, ParamSpec, Pattern, Ramp, RandomDelay, RequestSpec,
    SqlWorkload, Stage, Stall, ValueSpec, WeightedSize, Workload, YcsbCore, YcsbDistribution, Zone,
};

/// Everything wrong with keys and named values in the file.
pub(crate) fn check(root: &DeTable) -> Vec<Finding> {
    let root_path = FieldPath::root();
    let mut findings = unknown_keys(root, fields::<Workload>(), &root_path, "the workload");
    findings.extend(check_jobs(root));
    findings.extend(super::monitor::check_keys(root));
    findings
}

fn check_jobs(root: &DeTable) -> Vec<Finding> {
    let Some(jobs) = root.get("jobs") else {
        return Vec::new();
    };
    let Some(items) = jobs.get_ref().as_array() else {
        let message = "`jobs` must be a list of tables; write each job as a `[[jobs]]` section";
        return vec![Finding::at_span(
            FieldPath::root().key("jobs"),
            jobs.span(),
            message.into(),
        )];
    };
    let jobs = items.iter().enumerate();
    jobs.flat_map(|(i, job)| check_job(FieldPath::job(i), job))
        .collect()
}

fn check_job(path: FieldPath, job: &Spanned<DeValue>) -> Vec<Finding> {
    let Some(table) = job.get_ref().as_table() else {
        let message = "a job must be a table; write it as a `[[jobs]]` section";
        return vec![Finding::at_span(path, job.span(), message.into())];
    };
    let (kind, mut findings) = check_tagged(table, &path, kinds::<Job>(), "job kind");
    let Some(kind) = kind else { return findings };
    findings.extend(unknown_keys(
        table,
        &with_kind(kind_fields::<Job>(kind)),
        &path,
        kind_job(kind),
    ));
    match kind {
        "disk" => findings.extend(check_disk(table, &path)),
        "redis" => findings.extend(check_redis(table, &path)),
        "null" => findings.extend(check_null(table, &path)),
        "http" => findings.extend(check_http(table, &path)),
        "postgres" | "mysql" => findings.extend(check_sql(table, &path)),
        _ => {}
    }
    findings
}

fn kind_job(kind: &str) -> &'static str {
    match kind {
        "disk" => "a disk job",
        "redis" => "a redis job",
        "null" => "a null job",
        "postgres" => "a postgres job",
        "http" => "an http job",
        "mysql" => "a mysql job",
        _ => "this kind of job",
    }
}

fn check_disk(job: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(choice(job, path, "pattern", variants::<Pattern>()));
    findings.extend(choice(job, path, "engine", variants::<Engine>()));
    findings.extend(choice(job, path, "layout", variants::<FileLayout>()));
    findings.extend(list_of_tables(
        job,
        path,
        "block_size_mix",
        fields::<WeightedSize>(),
    ));
    if let Some(distribution) = job.get("distribution").and_then(|d| d.get_ref().as_table()) {
        findings.extend(check_distribution(distribution, &path.key("distribution")));
    }
    findings
}

fn check_redis(job: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = list_of_tables(job, path, "mix", fields::<MixEntry>());
    let mix = job.get("mix").and_then(|m| m.get_ref().as_array());
    let entries = mix.into_iter().flatten().enumerate();
    for (i, entry) in entries.filter_map(|(i, e)| Some((i, e.get_ref().as_table()?))) {
        findings.extend(choice(
            entry,
            &path.key("mix").index(i),
            "op",
            variants::<MixOp>(),
        ));
    }
    if let Some(keys) = sub_table(job, "keys") {
        let keys_path = path.key("keys");
        findings.extend(unknown_keys(
            keys,
            fields::<KeySpace>(),
            &keys_path,
            "`keys`",
        ));
        if let Some(distribution) = sub_table(keys, "distribution") {
            findings.extend(check_key_distribution(
                distribution,
                &keys_path.key("distribution"),
            ));
        }
    }
    if let Some(load) = sub_table(job, "load") {
        findings.extend(check_load(load, &path.key("load")));
    }
    findings
}

fn check_sql(job: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(choice(job, path, "init", variants::<InitMode>()));
    findings.extend(choice(job, path, "isolation", variants::<Isolation>()));
    if let Some(load) = sub_table(job, "load") {
        findings.extend(check_load(load, &path.key("load")));
    }
    let Some(workload) = sub_table(job, "workload") else {
        return findings;
    };
    let path = path.key("workload");
    let (kind, found) = check_tagged(workload, &path, kinds::<SqlWorkload>(), "SQL workload");
    findings.extend(found);
    let Some(kind) = kind else { return findings };
    let valid = with_kind(kind_fields::<SqlWorkload>(kind));
    findings.extend(unknown_keys(workload, &valid, &path, "this workload"));
    findings.extend(choice(workload, &path, "core", variants::<YcsbCore>()));
    let transactions = fields::<CustomTransaction>();
    findings.extend(list_of_tables(
        workload,
        &path,
        "transactions",
        transactions,
    ));
    if let Some(distribution) = sub_table(workload, "distribution") {
        let kinds = kinds::<YcsbDistribution>();
        findings.extend(check_tagged_keys::<YcsbDistribution>(
            distribution,
            &path.key("distribution"),
            kinds,
        ));
    }
    if let Some(params) = sub_table(workload, "params") {
        findings.extend(check_params(params, &path.key("params")));
    }
    findings
}

fn check_params(params: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, value) in params.iter() {
        let Some(param) = value.get_ref().as_table() else {
            continue;
        };
        let at = path.key(name.get_ref());
        findings.extend(check_tagged_keys::<ParamSpec>(
            param,
            &at,
            kinds::<ParamSpec>(),
        ));
        if let Some(distribution) = sub_table(param, "distribution") {
            findings.extend(check_tagged_keys::<IntDistribution>(
                distribution,
                &at.key("distribution"),
                kinds::<IntDistribution>(),
            ));
        }
    }
    findings
}

/// The `kind` of a tagged table and the keys that kind takes.
fn check_tagged_keys<T: for<'de> serde::Deserialize<'de>>(
    table: &DeTable,
    path: &FieldPath,
    kinds: &[&str],
) -> Vec<Finding> {
    let (kind, mut findings) = check_tagged(table, path, kinds, "kind");
    if let Some(kind) = kind {
        let valid = with_kind(kind_fields::<T>(kind));
        findings.extend(unknown_keys(table, &valid, path, "this kind"));
    }
    findings
}

fn check_null(job: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(delay) = sub_table(job, "delay") {
        let delay_path = path.key("delay");
        let (kind, found) = check_tagged(delay, &delay_path, kinds::<RandomDelay>(), "delay");
        findings.extend(found);
        if let Some(kind) = kind {
            let valid = with_kind(kind_fields::<RandomDelay>(kind));
            findings.extend(unknown_keys(delay, &valid, &delay_path, "this delay"));
        }
    }
    if let Some(stall) = sub_table(job, "stall") {
        findings.extend(unknown_keys(
            stall,
            fields::<Stall>(),
            &path.key("stall"),
            "`stall`",
        ));
    }
    if let Some(load) = sub_table(job, "load") {
        findings.extend(check_load(load, &path.key("load")));
    }
    findings
}

fn check_http(job: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(choice(job, path, "http_version", variants::<HttpVersion>()));
    findings.extend(check_http_requests(job, path, "requests"));
    findings.extend(list_of_tables(
        job,
        path,
        "journeys",
        fields::<JourneySpec>(),
    ));
    for (j, journey) in tables_in(job, "journeys") {
        findings.extend(check_http_requests(
            journey,
            &path.key("journeys").index(j),
            "steps",
        ));
    }
    if let Some(values) = sub_table(job, "values") {
        let values_path = path.key("values");
        let tables = values
            .iter()
            .filter_map(|(name, v)| Some((name, v.get_ref().as_table()?)));
        for (name, value) in tables {
            findings.extend(check_value_spec(value, &values_path.key(name.get_ref())));
        }
    }
    if let Some(load) = sub_table(job, "load") {
        findings.extend(check_load(load, &path.key("load")));
    }
    findings
}

fn check_http_requests(table: &DeTable, path: &FieldPath, key: &str) -> Vec<Finding> {
    let mut findings = list_of_tables(table, path, key, fields::<RequestSpec>());
    for (i, request) in tables_in(table, key) {
        let at = path.key(key).index(i);
        findings.extend(list_of_tables(
            request,
            &at,
            "checks",
            fields::<CheckSpec>(),
        ));
        let Some(captures) = sub_table(request, "capture") else {
            continue;
        };
        let captures = captures
            .iter()
            .filter_map(|(name, v)| Some((name, v.get_ref().as_table()?)));
        for (name, capture) in captures {
            let at = at.key("capture").key(name.get_ref());
            findings.extend(unknown_keys(
                capture,
                fields::<CaptureSpec>(),
                &at,
                "a capture",
            ));
        }
    }
    findings
}

fn check_value_spec(table: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let (kind, mut findings) = check_tagged(table, path, kinds::<ValueSpec>(), "value kind");
    let Some(kind) = kind else { return findings };
    let valid = with_kind(kind_fields::<ValueSpec>(kind));
    findings.extend(unknown_keys(table, &valid, path, "this value"));
    findings.extend(choice(table, path, "order", variants::<CsvOrder>()));
    if let Some(distribution) = sub_table(table, "distribution") {
        findings.extend(check_distribution(distribution, &path.key("distribution")));
    }
    findings
}

/// The tables in the list at `table[key]`, with their indexes.
fn tables_in<'t>(
    table: &'t DeTable<'t>,
    key: &str,
) -> impl Iterator<Item = (usize, &'t DeTable<'t>)> {
    let items = table.get(key).and_then(|v| v.get_ref().as_array());
    items
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.get_ref().as_table()?)))
}

fn check_key_distribution(table: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let kinds = kinds::<KeyDistribution>();
    let (kind, mut findings) = check_tagged(table, path, kinds, "key distribution");
    let Some(kind) = kind else { return findings };
    let valid = with_kind(kind_fields::<KeyDistribution>(kind));
    findings.extend(unknown_keys(table, &valid, path, "this distribution"));
    findings
}

fn check_load(load: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let mut findings = unknown_keys(load, fields::<LoadSpec>(), path, "`load`");
    findings.extend(choice(load, path, "model", variants::<LoadModel>()));
    findings.extend(choice(load, path, "arrival", variants::<Arrival>()));
    findings.extend(list_of_tables(load, path, "stages", fields::<Stage>()));
    if let Some(ramp) = sub_table(load, "ramp") {
        findings.extend(unknown_keys(
            ramp,
            fields::<Ramp>(),
            &path.key("ramp"),
            "`ramp`",
        ));
    }
    findings
}

fn sub_table<'t>(table: &'t DeTable<'t>, key: &str) -> Option<&'t DeTable<'t>> {
    table.get(key).and_then(|v| v.get_ref().as_table())
}

fn check_distribution(table: &DeTable, path: &FieldPath) -> Vec<Finding> {
    let (kind, mut findings) = check_tagged(table, path, kinds::<Distribution>(), "distribution");
    let Some(kind) = kind else { return findings };
    let valid = with_kind(kind_fields::<Distribution>(kind));
    findings.extend(unknown_keys(table, &valid, path, "this distribution"));
    findings.extend(list_of_tables(table, path, "zones", fields::<Zone>()));
    findings
}

/// The `kind` of a tagged table, if it is one of `kinds`; a finding when it is missing or
/// unknown.
fn check_tagged<'t>(
    table: &'t DeTable,
    path: &FieldPath,
    kinds: &[&str],
    what: &str,
) -> (Option<&'t str>, Vec<Finding>) {
    let Some(kind) = table.get("kind") else {
        let first = kinds.first().copied().unwrap_or_default();
        let message = format!(
            "missing key `kind` (valid: {}); add it, like `kind = \"{first}\"`",
            list(kinds)
        );
        return (None, vec![Finding::at(path.clone(), message)]);
    };
    match kind.get_ref().as_str() {
        Some(written) if kinds.contains(&written) => (Some(written), Vec::new()),
        Some(written) => (
            None,
            vec![unknown_value(path.key("kind"), kind, written, kinds, what)],
        ),
        // Not a string: serde says so, with the type it expected.
        None => (None, Vec::new()),
    }
}

/// A finding for each key of `table` that is not in `valid`.
pub(super) fn unknown_keys(
    table: &DeTable,
    valid: &[&str],
    path: &FieldPath,
    what: &str,
) -> Vec<Finding> {
    let unknown = table
        .keys()
        .filter(|key| !valid.contains(&key.get_ref().as_ref()));
    let finding = |key: &Spanned<DeString>| {
        let message = unknown_key_message(key.get_ref(), valid, what);
        Finding::at_span(path.clone(), key.span(), message)
    };
    unknown.map(finding).collect()
}

fn unknown_key_message(written: &str, valid: &[&str], what: &str) -> String {
    let valid: Vec<&str> = valid.iter().copied().filter(|key| *key != "kind").collect();
    match suggest(written, &valid) {
        Some(meant) => format!("unknown key `{written}`; did you mean `{meant}`?"),
        None => format!(
            "unknown key `{written}`; remove it ({what} takes {})",
            list(&valid)
        ),
    }
}

/// A finding when the string at `table[key]` is not one of `valid`.
fn choice(table: &DeTable, path: &FieldPath, key: &str, valid: &[&str]) -> Option<Finding> {
    let value = table.get(key)?;
    let written = value.get_ref().as_str()?;
    let unknown = !valid.contains(&written);
    unknown.then(|| unknown_value(path.key(key), value, written, valid, key))
}

fn unknown_value<T>(
    path: FieldPath,
    value: &Spanned<T>,
    written: &str,
    valid: &[&str],
    what: &str,
) -> Finding {
    let message = match suggest(written, valid) {
        Some(meant) => {
            format!(
                "unknown {what} `{written}` (valid: {}); did you mean `{meant}`?",
                list(valid)
            )
        }
        None => format!("unknown {what} `{written}`; use one of {}", list(valid)),
    };
    Finding::at_span(path, value.span(), message)
}

/// Unknown keys in each table of the list at `table[key]`. Elements that are not tables are
/// left to serde.
pub(super) fn list_of_tables(
    table: &DeTable,
    path: &FieldPath,
    key: &str,
    valid: &[&str],
) -> Vec<Finding> {
    let Some(items) = table.get(key).and_then(|v| v.get_ref().as_array()) else {
        return Vec::new();
    };
    let what = format!("an entry of `{key}`");
    let tables = items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, v.get_ref().as_table()?)));
    let path = path.key(key);
    tables
        .flat_map(|(i, entry)| unknown_keys(entry, valid, &path.index(i), &what))
        .collect()
}

fn with_kind(fields: &[&'static str]) -> Vec<&'static str> {
    std::iter::once("kind")
        .chain(fields.iter().copied())
        .collect()
}
