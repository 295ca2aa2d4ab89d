//! Reading a workload file: parse, check keys, deserialize, check values, in that order.
//!
//! Each stage reports everything it finds, and the next one runs only on what passed, so a
//! user sees all the problems of one kind at once without one mistake echoing as three. This
//! module owns the order and the turning of TOML errors into located problems; the rules live
//! in `schema` (keys and names) and `validate` (values).

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

use super::error::{Problem, WorkloadError};
use super::hints::example;
use super::spans::{Document, FieldPath, Finding, line_column};
use crate::gate::Threshold;

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

/// A problem found after loading, by a job's setup (a file plimsoll may not write, a URL its
/// client cannot read), placed the way loading places its own problems: file, line, column and
/// field. `key` is a path inside the job (`url`, `requests[2].url`); None places it at the job.
pub fn locate_in_job(
    file: &str,
    text: &str,
    job: usize,
    key: Option<&str>,
    message: String,
) -> WorkloadError {
    let (root, _) = DeTable::parse_recoverable(text);
    let doc = Document { text, root: &root };
    let at = key.map_or(FieldPath::job(job), |key| FieldPath::job(job).join(key));
    WorkloadError::Invalid {
        file: file.to_owned(),
        problems: vec![doc.place(Finding::at(at, message))],
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
        match deserialize_job(doc, job) {
            Ok(job) => jobs.push(job),
            Err(found) => findings.extend(found),
        }
    }

    let header = root_is_clean.then(|| deserialize_header(doc, doc.root));
    match header {
        Some(Ok(workload)) if findings.is_empty() => Ok(Workload { jobs, ..workload }),
        Some(Err(found)) => Err([findings, found].concat()),
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
fn deserialize_header(doc: &Document, root: &Spanned<DeTable>) -> Result<Workload, Vec<Finding>> {
    let mut table = root.get_ref().clone();
    let no_jobs = Spanned::new(0..0, DeValue::Array(DeArray::new()));
    table.insert(Spanned::new(0..0, Cow::Borrowed("jobs")), no_jobs);
    read_every_key(doc, root.span(), table, |table| {
        Workload::deserialize(toml::Deserializer::from(table))
    })
}

/// A known kind goes straight to its own type: through the tagged `Job`, serde buffers the
/// table and every error would point at the `[[jobs]]` header. Other kinds take that path.
fn deserialize_job(doc: &Document, job: &Spanned<DeValue>) -> Result<Job, Vec<Finding>> {
    let table = job.get_ref().as_table();
    let kind = table
        .and_then(|t| t.get("kind"))
        .and_then(|k| k.get_ref().as_str());
    let (Some(table), Some(kind @ ("disk" | "redis" | "null" | "postgres" | "http" | "mysql"))) =
        (table, kind)
    else {
        let read = Job::deserialize(ValueDeserializer::from(job.clone()));
        return read.map_err(|error| vec![serde_finding(doc, error.message(), error.span())]);
    };
    let mut table = table.clone();
    table.remove("kind");
    read_every_key(doc, job.span(), table, |table| {
        let span = table.span();
        let input = ValueDeserializer::from(Spanned::new(span, DeValue::Table(table.into_inner())));
        match kind {
            "disk" => DiskJob::deserialize(input).map(Job::Disk),
            "null" => NullJob::deserialize(input).map(Job::Null),
            "postgres" => SqlJob::deserialize(input).map(Job::Postgres),
            "http" => HttpJob::deserialize(input).map(Job::Http),
            "mysql" => SqlJob::deserialize(input).map(Job::Mysql),
            _ => RedisJob::deserialize(input).map(Job::Redis),
        }
    })
}

/// serde stops at a table's first bad value. To report them all, each key at fault is taken
/// out and the table read again, until it reads or an error is not about one key (a missing
/// key, say). Bad thresholds are found first, each at its own entry: serde would place the
/// first one only, at the list.
fn read_every_key<'a, T>(
    doc: &Document,
    span: Range<usize>,
    mut table: DeTable<'a>,
    read: impl Fn(Spanned<DeTable<'a>>) -> Result<T, toml::de::Error>,
) -> Result<T, Vec<Finding>> {
    let mut findings = take_bad_thresholds(doc, &mut table);
    let mut removed = Vec::new();
    for _ in 0..=table.len() {
        let error = match read(Spanned::new(span.clone(), table.clone())) {
            Ok(value) if findings.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(error) => error,
        };
        // The key taken out for an earlier error is missing now; that is not news.
        if missing_field(error.message()).is_some_and(|key| removed.contains(&key.to_owned())) {
            break;
        }
        let place = error
            .span()
            .map(|at| value_at_fault(&table, &span, at, error.message(), &read));
        findings.push(serde_finding(doc, error.message(), place));
        let at_fault = error.span().and_then(|at| key_holding(&table, &at));
        let Some(key) = at_fault else { break };
        table.remove(key.as_str());
        removed.push(key);
    }
    Err(findings)
}

/// Inside a table with a `kind`, serde reads the values from a copy that keeps no spans, so an
/// error about one of them carries the table's span. The value at fault is the one whose removal
/// changes the error: serde meets a bad value while reading the table, before it looks for
/// missing keys, so taking out a good one leaves the error as it was. Within the value at fault
/// the search goes on, into tables and lists alike, since none of them kept its spans. Where no
/// single value is at fault (a missing key), the span found so far stays.
fn value_at_fault<'a, T>(
    table: &DeTable<'a>,
    span: &Range<usize>,
    mut at: Range<usize>,
    message: &str,
    read: &impl Fn(Spanned<DeTable<'a>>) -> Result<T, toml::de::Error>,
) -> Range<usize> {
    let mut below_kind = false;
    while let Some(steps) = steps_to(table, &at) {
        let Some(container) = value_at(table, &steps) else {
            break;
        };
        below_kind |= container
            .get_ref()
            .as_table()
            .is_some_and(|t| t.contains_key("kind"));
        if !below_kind {
            break;
        }
        let at_fault = children(container).into_iter().find(|child| {
            let mut trial = table.clone();
            let Some(trial_container) = value_at_mut(&mut trial, &steps) else {
                return false;
            };
            remove(trial_container, child);
            let error = read(Spanned::new(span.clone(), trial)).err();
            error.is_none_or(|e| e.message() != message)
        });
        let Some(child) = at_fault else { break };
        let Some(value) = value_at(table, &[steps, vec![child]].concat()) else {
            break;
        };
        at = value.span();
    }
    at
}

/// One step from a table or list to a value in it.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The steps from `table` to the table or list, at any depth, whose span is `span`.
fn steps_to(table: &DeTable, span: &Range<usize>) -> Option<Vec<Step>> {
    let steps = steps_in_table(table, span).filter(|_| !span.is_empty())?;
    let found = value_at(table, &steps)?.get_ref();
    (found.is_table() || found.is_array()).then_some(steps)
}

fn steps_in_table(table: &DeTable, span: &Range<usize>) -> Option<Vec<Step>> {
    let mut entries = table.iter();
    entries.find_map(|(key, value)| steps_from(Step::Key(key.get_ref().to_string()), value, span))
}

fn steps_from(step: Step, value: &Spanned<DeValue>, span: &Range<usize>) -> Option<Vec<Step>> {
    let inner = match value.get_ref() {
        _ if value.span() == *span => Vec::new(),
        DeValue::Table(inner) => steps_in_table(inner, span)?,
        DeValue::Array(items) => {
            let mut items = items.iter().enumerate();
            items.find_map(|(i, item)| steps_from(Step::Index(i), item, span))?
        }
        _ => return None,
    };
    Some([vec![step], inner].concat())
}

fn value_at<'t, 'a>(table: &'t DeTable<'a>, steps: &[Step]) -> Option<&'t Spanned<DeValue<'a>>> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    rest.iter()
        .try_fold(table.get(first.as_str())?, |value, step| {
            match (step, value.get_ref()) {
                (Step::Key(key), DeValue::Table(inner)) => inner.get(key.as_str()),
                (Step::Index(i), DeValue::Array(items)) => items.get(*i),
                _ => None,
            }
        })
}

/// [`value_at`], to change.
fn value_at_mut<'t, 'a>(
    table: &'t mut DeTable<'a>,
    steps: &[Step],
) -> Option<&'t mut Spanned<DeValue<'a>>> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    rest.iter()
        .try_fold(table.get_mut(first.as_str())?, |value, step| {
            match (step, value.get_mut()) {
                (Step::Key(key), DeValue::Table(inner)) => inner.get_mut(key.as_str()),
                (Step::Index(i), DeValue::Array(items)) => items.get_mut(*i),
                _ => None,
            }
        })
}

/// The values of a table (but its `kind`, which names what the rest means) or a list.
fn children(container: &Spanned<DeValue>) -> Vec<Step> {
    match container.get_ref() {
        DeValue::Table(inner) => inner
            .keys()
            .map(|key| key.get_ref().to_string())
            .filter(|key| key != "kind")
            .map(Step::Key)
            .collect(),
        DeValue::Array(items) => (0..items.len()).map(Step::Index).collect(),
        _ => Vec::new(),
    }
}

fn remove(container: &mut Spanned<DeValue>, child: &Step) {
    match (container.get_mut(), child) {
        (DeValue::Table(inner), Step::Key(key)) => {
            inner.remove(key.as_str());
        }
        (DeValue::Array(items), Step::Index(i)) => {
            let kept = std::mem::replace(items, DeArray::new())
                .into_iter()
                .enumerate();
            *items = kept.filter(|(k, _)| k != i).map(|(_, item)| item).collect();
        }
        _ => {}
    }
}

/// The key of `table` whose value holds `span`.
fn key_holding(table: &DeTable, span: &Range<usize>) -> Option<String> {
    let holds = |value: &Spanned<DeValue>| {
        let outer = value.span();
        !outer.is_empty() && outer.start <= span.start && span.end <= outer.end
    };
    let (key, _) = table.iter().find(|(_, value)| holds(value))?;
    Some(key.get_ref().to_string())
}

/// Each threshold of the table's `thresholds` that does not parse, as a finding at its own
/// entry; those entries are taken out, so serde reads the rest of the table.
fn take_bad_thresholds(doc: &Document, table: &mut DeTable<'_>) -> Vec<Finding> {
    let Some(list) = table.get_mut("thresholds") else {
        return Vec::new();
    };
    let DeValue::Array(items) = list.get_mut() else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    let kept = std::mem::replace(items, DeArray::new())
        .into_iter()
        .filter(|item| {
            let Some(Err(error)) = item.get_ref().as_str().map(str::parse::<Threshold>) else {
                return true;
            };
            let span = item.span();
            findings.push(Finding::at_span(
                doc.path_at(&span),
                span,
                error.to_string(),
            ));
            false
        });
    *items = kept.collect();
    findings
}

fn serde_finding(doc: &Document, message: &str, span: Option<Range<usize>>) -> Finding {
    let span = span.unwrap_or(0..0);
    let path = doc.path_at(&span);
    let kind = path.job_index().and_then(|i| doc.job_kind(i));
    let message = serde_message(message, &path, kind);
    Finding::at_span(path, span, message)
}

/// serde's words, with its Rust type names made plain and an example of the expected form.
fn serde_message(message: &str, path: &FieldPath, kind: Option<&str>) -> String {
    if let Some(missing) = missing_field(message) {
        let hint = example(
            path.enclosing_list().filter(|_| path.last_key().is_none()),
            missing,
        );
        let hint = hint.map_or(String::new(), |line| format!(", like `{line}`"));
        return format!("missing key `{missing}`; add it{hint}");
    }
    let expected_form = path
        .last_key()
        .and_then(|key| example(path.enclosing_list(), key));
    let plain = path
        .last_key()
        .and_then(|key| not_a_whole_number(message, key, kind))
        .unwrap_or_else(|| plain_types(message));
    match expected_form {
        Some(line) if message.starts_with("invalid ") => format!("{plain}; write it like `{line}`"),
        _ => plain,
    }
}

/// serde's refusal of a value for an unsigned integer key, told as what the key takes:
/// `workers must be a whole number from 1 to 1024, and -1 is not` rather than the range of a
/// Rust type.
fn not_a_whole_number(message: &str, key: &str, kind: Option<&str>) -> Option<String> {
    let (refusal, rust_type) = message.rsplit_once(", expected ")?;
    let type_max = match rust_type {
        "u8" => u64::from(u8::MAX),
        "u16" => u64::from(u16::MAX),
        "u32" => u64::from(u32::MAX),
        "u64" | "usize" => u64::MAX,
        _ => return None,
    };
    let allowed = match validate::whole_number_range(kind, key) {
        Some((min, max)) if max < type_max => format!("a whole number from {min} to {max}"),
        Some((min, _)) => format!("a whole number of {min} or more"),
        None if type_max < u64::MAX => format!("a whole number from 0 to {type_max}"),
        None => "a whole number of 0 or more".to_owned(),
    };
    if let Some(written) = refusal.strip_prefix("invalid value: integer ") {
        return Some(format!("{key} must be {allowed}, and {written} is not"));
    }
    let written = refusal.strip_prefix("invalid type: ")?;
    Some(format!("{key} must be {allowed}, not a {written}"))
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
