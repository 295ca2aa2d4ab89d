//! Checks on CI outputs shared by the integration tests: a JUnit file validated against the
//! common JUnit schema by an independent validator, and Markdown parsed by a CommonMark parser
//! to the tables a reader would see.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/junit.xsd");

/// Validates `path` against tests/fixtures/junit.xsd with xmllint (libxml2-utils, which
/// scripts/test.sh installs).
pub fn assert_valid_junit(path: &Path) {
    let output = Command::new("xmllint")
        .args(["--noout", "--schema", SCHEMA])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}); scripts/test.sh installs it (libxml2-utils)")
        });
    assert!(
        output.status.success(),
        "{} does not validate against the JUnit schema:\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each table of a Markdown document as rendered: rows of cell texts, the header row first.
pub fn markdown_tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let (mut tables, mut table, mut row, mut cell) = (Vec::new(), None, Vec::new(), None);
    for event in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => table = Some(Vec::new()),
            Event::End(TagEnd::Table) => tables.extend(table.take()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.extend(cell.take()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                if let Some(t) = table.as_mut() {
                    t.push(std::mem::take(&mut row));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    tables
}
