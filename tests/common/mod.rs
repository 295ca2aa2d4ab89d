//! Helpers shared by the integration tests: a JUnit file validated against the common JUnit
//! schema by an independent validator, Markdown parsed by a CommonMark parser to the tables a
//! reader would see, certificates for TLS servers of a test's own, and stored histograms
//! replayed sample by sample.

#![allow(dead_code)]

pub mod sql;

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

/// A CA of the test's own (`ca.crt`) and a server certificate it signed for 127.0.0.1 (as an
/// IP subject alternative name), with its key.
pub fn certificates(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed (Debian's ssl-cert, which PostgreSQL needs, brings it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let new_key = ["req", "-newkey", "rsa:2048", "-nodes", "-days", "2"];
    let ca = [
        "-x509",
        "-subj",
        "/CN=plimsoll test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ];
    openssl(&[&new_key[..], &ca].concat());
    let server = [
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ];
    openssl(&[&new_key[..], &server].concat());
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    use std::os::unix::fs::PermissionsExt as _;
    let key = dir.join("server.key");
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Feeds `target`, one by one, every sample a stored histogram holds (each at the top of its
/// bucket, which is the value HdrHistogram reports for it), so merged figures can be checked
/// against a histogram that never went through plimsoll's own merge.
pub fn replay_into(target: &mut plimsoll::measure::LatencyHistogram, encoded: &str) {
    use base64::Engine as _;
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let stored: hdrhistogram::Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap();
    for bucket in stored.iter_recorded() {
        let value = stored.highest_equivalent(bucket.value_iterated_to());
        (0..bucket.count_at_value()).for_each(|_| target.record(value));
    }
}
