//! CI outputs: JUnit XML and Markdown tables, from test cases and rows others build.
//!
//! This module owns the formats (XML escaping, the testsuite counts, Markdown cell escaping)
//! and the threshold cases of a run. It does not decide what passed: thresholds
//! ([`crate::gate`]) and comparisons ([`crate::compare`]) do, and `main` writes the files.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::gate::ThresholdResult;

/// The CI step-summary file variable: when set, Markdown summaries are appended to that file.
pub const STEP_SUMMARY_VAR: &str = "GITHUB_STEP_SUMMARY";

/// One JUnit test case: passed when `failure` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub classname: String,
    pub name: String,
    /// The failure message.
    pub failure: Option<String>,
}

/// A JUnit document with one suite holding `cases`.
pub fn junit(suite: &str, cases: &[TestCase]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"plimsoll\" tests=\"{}\" failures=\"{failures}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">",
        xml_escape(suite),
        cases.len()
    );
    cases.iter().for_each(|c| out.push_str(&case_xml(c)));
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn case_xml(case: &TestCase) -> String {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        xml_escape(&case.classname),
        xml_escape(&case.name)
    );
    match &case.failure {
        None => format!("{open}/>\n"),
        Some(message) => format!(
            "{open}>\n      <failure message=\"{}\"/>\n    </testcase>\n",
            xml_escape(message)
        ),
    }
}

/// Escapes text for an XML attribute or element; control characters XML 1.0 cannot hold
/// become spaces.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown table: a header row, the separator, then each row; `|` in cells escaped.
pub fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(headers.iter().map(|h| md_cell(h)).collect());
    out.push_str(&line(headers.iter().map(|_| "---".to_owned()).collect()));
    for row in rows {
        out.push_str(&line(row.iter().map(|c| md_cell(c)).collect()));
    }
    out
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// One case per threshold checked: classname the scope, name the expression.
pub fn threshold_cases(results: &[ThresholdResult]) -> Vec<TestCase> {
    let case = |t: &ThresholdResult| TestCase {
        classname: t.scope.clone(),
        name: t.expression.clone(),
        failure: (!t.passed).then(|| format!("measured {}", t.measured_text)),
    };
    results.iter().map(case).collect()
}

/// The thresholds of a run as a Markdown summary.
pub fn thresholds_markdown(workload: &str, results: &[ThresholdResult]) -> String {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|t| {
            let verdict = if t.passed { "pass" } else { "FAIL" };
            vec![
                t.scope.clone(),
                format!("`{}`", t.expression),
                t.measured_text.clone(),
                verdict.to_owned(),
            ]
        })
        .collect();
    let failed = results.iter().filter(|t| !t.passed).count();
    let mut out = format!("## plimsoll run: {workload}\n\n");
    out.push_str(&markdown_table(
        &["scope", "threshold", "measured", "result"],
        &rows,
    ));
    let _ = writeln!(out, "\n{failed} of {} threshold(s) failed", results.len());
    out
}

/// One case per threshold checked in each of several runs: classname `run-K/scope`.
pub fn repeat_threshold_cases(runs: &[(String, &[ThresholdResult])]) -> Vec<TestCase> {
    let per_run = runs.iter().flat_map(|(label, results)| {
        threshold_cases(results).into_iter().map(move |c| TestCase {
            classname: format!("{label}/{}", c.classname),
            ..c
        })
    });
    per_run.collect()
}

/// The thresholds of several runs of one workload as one Markdown table, a row per run and
/// threshold.
pub fn repeat_markdown(workload: &str, runs: &[(String, &[ThresholdResult])]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .flat_map(|(label, results)| {
            results.iter().map(move |t| {
                let verdict = if t.passed { "pass" } else { "FAIL" };
                vec![
                    label.clone(),
                    t.scope.clone(),
                    format!("`{}`", t.expression),
                    t.measured_text.clone(),
                    verdict.to_owned(),
                ]
            })
        })
        .collect();
    let failed = rows.iter().filter(|r| r[4] == "FAIL").count();
    let mut out = format!("## plimsoll run: {workload}, {} run(s)\n\n", runs.len());
    out.push_str(&markdown_table(
        &["run", "scope", "threshold", "measured", "result"],
        &rows,
    ));
    let _ = writeln!(
        out,
        "\n{failed} of {} threshold check(s) failed",
        rows.len()
    );
    out
}

/// Writes `--junit` and `--markdown` files where asked, and appends the Markdown to the CI
/// step summary when its variable is set.
pub fn write_outputs(
    junit_path: Option<&Path>,
    markdown_path: Option<&Path>,
    junit_text: &str,
    markdown_text: &str,
) -> Result<(), String> {
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    junit_path.map_or(Ok(()), |p| write(p, junit_text))?;
    markdown_path.map_or(Ok(()), |p| write(p, markdown_text))?;
    match std::env::var_os(STEP_SUMMARY_VAR).filter(|v| !v.is_empty()) {
        Some(path) => append(Path::new(&path), markdown_text),
        None => Ok(()),
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    opened.and_then(|mut f| writeln!(f, "{text}")).map_err(|e| {
        format!(
            "cannot append to {STEP_SUMMARY_VAR} file {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_and_messages_is_escaped() {
        let case = TestCase {
            classname: "a<b>".to_owned(),
            name: "p99 < 5ms & \"x\"".to_owned(),
            failure: Some("measured 'big'".to_owned()),
        };
        let xml = junit("s", &[case]);
        assert!(xml.contains("classname=\"a&lt;b&gt;\""), "{xml}");
        assert!(
            xml.contains("name=\"p99 &lt; 5ms &amp; &quot;x&quot;\""),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"measured &apos;big&apos;\"/>"),
            "{xml}"
        );
        assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
    }

    #[test]
    fn a_pipe_in_a_cell_does_not_split_the_row() {
        let table = markdown_table(&["a", "b"], &[vec!["x|y".to_owned(), "z".to_owned()]]);
        assert_eq!(table, "| a | b |\n| --- | --- |\n| x\\|y | z |\n");
    }
}
