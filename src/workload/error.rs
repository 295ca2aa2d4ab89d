//! The error a refused workload file gives, worded as the CLI prints it.
//!
//! `Display` is the whole message that follows `plimsoll: error: `: one line per problem, each
//! `file:line:column: field: message`, so an editor can jump to every one. This module does
//! not find problems; the loader and the checks do.

use std::fmt;
use std::path::PathBuf;

/// Why a workload file was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read at all. The I/O error is part of the message (not a
    /// `source`), so printing the chain does not repeat it.
    #[error("cannot read workload file {path}: {error}; check the path and its permissions")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file was read but is not a valid workload: every problem found, sorted by line.
    #[error("{}", Lines(file, problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

impl WorkloadError {
    /// The problems found, by line; empty when the file could not be read.
    pub fn problems(&self) -> &[Problem] {
        match self {
            WorkloadError::Read { .. } => &[],
            WorkloadError::Invalid { problems, .. } => problems,
        }
    }
}

/// One thing wrong in a workload file, at a place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// The field, as a dotted path with the job's name: `jobs[1].block_size (seqwrite)`. None
    /// for syntax errors and for the file as a whole.
    pub field: Option<String>,
    /// A sentence that ends with what to change.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

struct Lines<'a>(&'a str, &'a [Problem]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Lines(file, problems) = self;
        for (i, problem) in problems.iter().enumerate() {
            let separator = if i == 0 { "" } else { "\n" };
            write!(f, "{separator}{file}:{problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: usize, field: Option<&str>, message: &str) -> Problem {
        let field = field.map(str::to_owned);
        Problem {
            line,
            column: 1,
            field,
            message: message.to_owned(),
        }
    }

    #[test]
    fn one_problem_is_one_line_naming_file_place_and_field() {
        let problems = vec![problem(
            7,
            Some("jobs[0] (randread)"),
            "unknown key `queue_dept`",
        )];
        let error = WorkloadError::Invalid {
            file: "workloads/x.toml".into(),
            problems,
        };
        assert_eq!(
            error.to_string(),
            "workloads/x.toml:7:1: jobs[0] (randread): unknown key `queue_dept`"
        );
    }

    #[test]
    fn several_problems_are_one_line_each() {
        let problems = vec![
            problem(2, None, "first"),
            problem(5, Some("name"), "second"),
        ];
        let error = WorkloadError::Invalid {
            file: "w.toml".into(),
            problems,
        };
        assert_eq!(
            error.to_string(),
            "w.toml:2:1: first\nw.toml:5:1: name: second"
        );
    }
}
