//! Reading a workload file: parse, check keys, deserialize, check values, in that order.
//!
//! Each stage reports everything it finds, and the next one runs only on what passed, so a
//! user sees all the problems of one kind at once without one mistake echoing as three. This
//! module owns the order and the turning of TOML errors into located problems; the rules live
//! in `schema` (keys and names) and `validate` (values).

use std::borrow::Cow;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

use super::error::{Problem, WorkloadError};
use super::hints::example;
use super::spans::{Document, FieldPath, Finding, line_column};
use super::{DiskJob, HttpJob, Job, NullJob, RedisJob, SqlJob, Workload, schema, validate};

/// Reads and checks the workload file at `path`. Errors name the file as given.
pub fn load_file(path: &Path) -> Result<Workload, WorkloadError> {
    let text = std::fs::read_to_string(path).map_err(|error| WorkloadError::Read {
        path: path.to_owned(),
        error,
    })?;
    load_str(&path.display().to_string(), &text)
}

/// Checks a workload given as text; `file` is how messages name it.
pub fn load_str(file: &str, text: &str) -> Result<Workload, WorkloadError> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    let problems = if syntax_errors.is_empty() {
        match check(&Document { text, root: &root }) {
            Ok(workload) => return Ok(workload),
            Err(problems) => problems,
        }
    } else {
        let problems = syntax_errors.iter().map(|e| syntax_problem(text, e));
        first_per_line(problems.collect())
    };
    Err(WorkloadError::Invalid {
        file: file.to_owned(),
        problems: sorted(problems),
    })
}

/// A problem found after loading, by a job's setup (a file plimsoll may not write, say), placed
/// at that job the way loading places its own problems: file, line, column and field.
pub fn locate_in_job(file: &str, text: &str, job: usize, message: String) -> WorkloadError {
    let (root, _) = DeTable::parse_recoverable(text);
    let doc = Document { text, root: &root };
    WorkloadError::Invalid {
        file: file.to_owned(),
        problems: vec![doc.place(Finding::at(FieldPath::job(job), message))],
    }
}

fn check(doc: &Document) -> Result<Workload, Vec<Problem>> {
    let place = |findings: Vec<Finding>| findings.into_iter().map(|f| doc.place(f)).collect();
    let workload = deserialize(doc, schema::check(doc.root.get_ref())).map_err(place)?;
    let findings = validate::check(&workload);
    if findings.is_empty() {
        Ok(workload)
    } else {
        Err(place(findings))
    }
}

fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| (p.line, p.column));
    problems.dedup();
    problems
}

/// Typed deserialization of every part that passed the key checks. Parts with findings are
/// skipped, since serde would only repeat them with a worse location.
fn deserialize(doc: &Document, mut findings: Vec<Finding>) -> Result<Workload, Vec<Finding>> {
    let (root_is_clean, dirty_jobs) = dirty_parts(&findings);
    let mut jobs = Vec::new();
    for (i, job) in job_values(doc.root).iter().enumerate() {
        if dirty_jobs.contains(&i) {
            continue;
        }
        match deserialize_job(job) {
            Ok(job) => jobs.push(job),
            Err(error) => findings.push(serde_finding(doc, &error)),
        }
    }

    let header = root_is_clean.then(|| deserialize_header(doc.root));
    match header {
        Some(Ok(workload)) if findings.is_empty() => Ok(Workload { jobs, ..workload }),
        Some(Err(error)) => Err([findings, vec![serde_finding(doc, &error)]].concat()),
        _ => Err(findings),
    }
}

/// Whether the workload's own keys passed, and which jobs did not.
fn dirty_parts(findings: &[Finding]) -> (bool, Vec<usize>) {
    let jobs = findings
        .iter()
        .map(|f| f.path.as_ref().and_then(FieldPath::job_index));
    let dirty_jobs: Vec<usize> = jobs.clone().flatten().collect();
    let root_is_clean = jobs.clone().all(|job| job.is_some());
    (root_is_clean, dirty_jobs)
}

fn job_values<'a>(root: &'a Spanned<DeTable<'a>>) -> &'a [Spanned<DeValue<'a>>] {
    let jobs = root
        .get_ref()
        .get("jobs")
        .and_then(|jobs| jobs.get_ref().as_array());
    jobs.map_or(&[], |jobs| jobs)
}

/// The workload's own keys, with `jobs` emptied: jobs are deserialized one by one so that
/// their errors keep the span of the key at fault.
fn deserialize_header(root: &Spanned<DeTable>) -> Result<Workload, toml::de::Error> {
    let mut table = root.get_ref().clone();
    let no_jobs = Spanned::new(0..0, DeValue::Array(DeArray::new()));
    table.insert(Spanned::new(0..0, Cow::Borrowed("jobs")), no_jobs);
    Workload::deserialize(toml::Deserializer::from(Spanned::new(root.span(), table)))
}

/// A known kind goes straight to its own type: through the tagged `Job`, serde buffers the
/// table and every error would point at the `[[jobs]]` header. Other kinds take that path.
fn deserialize_job(job: &Spanned<DeValue>) -> Result<Job, toml::de::Error> {
    let table = job.get_ref().as_table();
    let kind = table
        .and_then(|t| t.get("kind"))
        .and_then(|k| k.get_ref().as_str());
    let (Some(table), Some(kind @ ("disk" | "redis" | "null" | "postgres" | "http" | "mysql"))) =
        (table, kind)
    else {
        return Job::deserialize(ValueDeserializer::from(job.clone()));
    };
    let mut table = table.clone();
    table.remove("kind");
    let input = ValueDeserializer::from(Spanned::new(job.span(), DeValue::Table(table)));
    match kind {
        "disk" => DiskJob::deserialize(input).map(Job::Disk),
        "null" => NullJob::deserialize(input).map(Job::Null),
        "postgres" => SqlJob::deserialize(input).map(Job::Postgres),
        "http" => HttpJob::deserialize(input).map(Job::Http),
        "mysql" => SqlJob::deserialize(input).map(Job::Mysql),
        _ => RedisJob::deserialize(input).map(Job::Redis),
    }
}

fn serde_finding(doc: &Document, error: &toml::de::Error) -> Finding {
    let span = error.span().unwrap_or(0..0);
    let path = doc.path_at(&span);
    let message = serde_message(error.message(), &path);
    Finding::at_span(path, span, message)
}

/// serde's words, with its Rust type names made plain and an example of the expected form.
fn serde_message(message: &str, path: &FieldPath) -> String {
    if let Some(missing) = missing_field(message) {
        let hint = example(
            path.enclosing_list().filter(|_| path.last_key().is_none()),
            missing,
        );
        let hint = hint.map_or(String::new(), |line| format!(", like `{line}`"));
        return format!("missing key `{missing}`; add it{hint}");
    }
    let plain = plain_types(message);
    let expected_form = path
        .last_key()
        .and_then(|key| example(path.enclosing_list(), key));
    match expected_form {
        Some(line) if message.starts_with("invalid ") => format!("{plain}; write it like `{line}`"),
        _ => plain,
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

fn plain_types(message: &str) -> String {
    const PLAIN: &[(&str, &str)] = &[
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a table"),
    ];
    let replace = |text: String, (rust, plain): &(&str, &str)| text.replace(rust, plain);
    PLAIN.iter().fold(message.to_owned(), replace)
}

/// The parser's recovery can report a cascade after one mistake; past the first problem on a
/// line the rest are rarely news. "First" is in the parser's order (the sort is stable), which
/// names the cause more often than the leftmost column does: on `[jobs` it is the unclosed
/// header, not the key `jobs` repeated.
fn first_per_line(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| p.line);
    problems.dedup_by_key(|p| p.line);
    problems
}

fn syntax_problem(text: &str, error: &toml::de::Error) -> Problem {
    let span = error.span().unwrap_or(0..0);
    let (line, column) = line_column(text, span.start);
    let message = match error.message() {
        "duplicate key" => {
            let key = text.get(span).unwrap_or_default();
            format!("duplicate key `{key}`; keep one of them (a table takes each key once)")
        }
        other => other.to_owned(),
    };
    Problem {
        line,
        column,
        field: None,
        message,
    }
}
