//! Where in the file a finding is: dotted field paths, their spans, and line and column.
//!
//! Every check reports either a field path (`jobs[1].block_size`), a byte span from the TOML
//! parser, or both; this module fills in the missing half from the parsed document, so each
//! message can name the line, the column and the field. It does not decide what is wrong.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::Problem;

/// One step into the document: a key of a table or an index into an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted path to a value, as the user would write it: `jobs[1].distribution.theta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(Vec<Seg>);

impl FieldPath {
    pub(crate) fn root() -> Self {
        Self::default()
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        self.with(Seg::Key(key.to_owned()))
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        self.with(Seg::Index(index))
    }

    pub(crate) fn job(index: usize) -> Self {
        Self::root().key("jobs").index(index)
    }

    /// This path followed by `dotted`, written as [`Display`](fmt::Display) writes paths:
    /// `requests[2].url`.
    pub(crate) fn join(&self, dotted: &str) -> Self {
        let mut path = self.clone();
        for part in dotted.split('.') {
            let (key, indices) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() {
                path = path.key(key);
            }
            let indices = indices.split('[').map(|i| i.trim_end_matches(']'));
            for index in indices.filter_map(|i| i.parse().ok()) {
                path = path.index(index);
            }
        }
        path
    }

    fn with(&self, seg: Seg) -> Self {
        let mut segs = self.0.clone();
        segs.push(seg);
        FieldPath(segs)
    }

    /// The last step, when it is a key.
    pub(crate) fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// The key of the innermost list the path goes through: `zones` for
    /// `jobs[0].distribution.zones[1].size`.
    pub(crate) fn enclosing_list(&self) -> Option<&str> {
        let index = self
            .0
            .iter()
            .rposition(|seg| matches!(seg, Seg::Index(_)))?;
        match self.0.get(index.checked_sub(1)?) {
            Some(Seg::Key(key)) => Some(key),
            _ => None,
        }
    }

    /// The job this path is inside, if any.
    pub(crate) fn job_index(&self) -> Option<usize> {
        match self.0.as_slice() {
            [Seg::Key(jobs), Seg::Index(i), ..] if jobs == "jobs" => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) if i == 0 => write!(f, "{key}")?,
                Seg::Key(key) => write!(f, ".{key}")?,
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Something wrong, before it is placed in the file. At least one of `path` and `span` is
/// expected; with neither it lands on line 1.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub path: Option<FieldPath>,
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl Finding {
    pub(crate) fn at(path: FieldPath, message: String) -> Self {
        Finding {
            path: Some(path),
            span: None,
            message,
        }
    }

    pub(crate) fn at_span(path: FieldPath, span: Range<usize>, message: String) -> Self {
        Finding {
            path: Some(path),
            span: Some(span),
            message,
        }
    }
}

/// The text and its parsed tree, to turn findings into located problems.
pub(crate) struct Document<'a> {
    pub text: &'a str,
    pub root: &'a Spanned<DeTable<'a>>,
}

impl Document<'_> {
    pub(crate) fn place(&self, finding: Finding) -> Problem {
        let path = finding
            .path
            .or_else(|| finding.span.clone().map(|s| self.path_at(&s)));
        let span = finding
            .span
            .or_else(|| path.as_ref().map(|p| self.span_of(p)));
        let (line, column) = line_column(self.text, span.map_or(0, |s| s.start));
        let field = path.filter(|p| !p.0.is_empty()).map(|p| self.label(&p));
        Problem {
            line,
            column,
            field,
            message: finding.message,
        }
    }

    /// The path, followed by the job's name when the path is inside a named job.
    fn label(&self, path: &FieldPath) -> String {
        let name = path.job_index().and_then(|i| self.job_name(i));
        match name {
            Some(name) => format!("{path} ({name})"),
            None => path.to_string(),
        }
    }

    fn job_name(&self, index: usize) -> Option<&str> {
        let job = self.root.get_ref().get("jobs")?.get_ref().get(index)?;
        let name = job.get_ref().get("name")?.get_ref().as_str()?;
        (!name.trim().is_empty()).then_some(name)
    }

    /// The `kind` a job was written with, if it is a string.
    pub(crate) fn job_kind(&self, index: usize) -> Option<&str> {
        let job = self.root.get_ref().get("jobs")?.get_ref().get(index)?;
        job.get_ref().get("kind")?.get_ref().as_str()
    }

    /// The span of the value at `path`, or of the deepest part of it that exists.
    pub(crate) fn span_of(&self, path: &FieldPath) -> Range<usize> {
        let mut span = self.root.span();
        let mut value: Option<&DeValue> = None;
        for seg in &path.0 {
            let next = match (seg, value) {
                (Seg::Key(key), None) => self.root.get_ref().get(key.as_str()),
                (Seg::Key(key), Some(v)) => v.get(key.as_str()),
                (Seg::Index(index), Some(v)) => v.get(*index),
                (Seg::Index(_), None) => None,
            };
            let Some(next) = next else { break };
            span = next.span();
            value = Some(next.get_ref());
        }
        span
    }

    /// The deepest key whose key or value span holds all of `span`.
    pub(crate) fn path_at(&self, span: &Range<usize>) -> FieldPath {
        // An error about the whole file (a missing top-level key) carries the root's span,
        // which may be empty and so sit inside the first key's span too.
        if *span == self.root.span() {
            return FieldPath::root();
        }
        find_in_table(self.root.get_ref(), span, FieldPath::root()).unwrap_or_default()
    }
}

fn find_in_table(table: &DeTable, span: &Range<usize>, here: FieldPath) -> Option<FieldPath> {
    table.iter().find_map(|(key, value)| {
        let path = here.key(key.get_ref());
        let holds = contains(&key.span(), span) || contains(&value.span(), span);
        find_in_value(value.get_ref(), span, &path).or(holds.then_some(path))
    })
}

fn find_in_value(value: &DeValue, span: &Range<usize>, here: &FieldPath) -> Option<FieldPath> {
    match value {
        DeValue::Table(table) => find_in_table(table, span, here.clone()),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = here.index(i);
            let deeper = find_in_value(item.get_ref(), span, &path);
            deeper.or(contains(&item.span(), span).then_some(path))
        }),
        _ => None,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_the_user_writes_them() {
        let path = FieldPath::job(1)
            .key("block_size_mix")
            .index(0)
            .key("weight");
        assert_eq!(path.to_string(), "jobs[1].block_size_mix[0].weight");
        assert_eq!(path.job_index(), Some(1));
        assert_eq!(path.last_key(), Some("weight"));
        assert_eq!(path.enclosing_list(), Some("block_size_mix"));
        assert_eq!(FieldPath::root().key("duration").job_index(), None);
    }

    #[test]
    fn a_written_path_joins_as_its_steps() {
        let joined = FieldPath::job(0).join("journeys[1].steps[2].url");
        let built = FieldPath::job(0)
            .key("journeys")
            .index(1)
            .key("steps")
            .index(2)
            .key("url");
        assert_eq!(joined, built);
        assert_eq!(FieldPath::job(3).join("url"), FieldPath::job(3).key("url"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "a = 1\nnamé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(line_column(text, text.rfind('=').unwrap()), (2, 6));
    }
}
