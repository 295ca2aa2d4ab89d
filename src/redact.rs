//! Keeping secrets out of reports: passwords in URLs (`redis://user:secret@host`) and values
//! of keys that name a password are replaced by `***` before anything is rendered. It works on
//! text and on JSON trees; it does not escape (the template does) and does not touch the
//! results file itself.

use serde_json::Value;

use crate::results::RunResults;

const MASK: &str = "***";

/// Key names whose values are secrets wherever they appear in a workload or target, header
/// names among them (compared with `-` read as `_`: `x-api-key` ends in `_api_key`).
const SECRET_KEYS: [&str; 9] = [
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
];

/// `text` with the password of every `scheme://user:password@host`, every `password=...`
/// and every `Bearer`/`Basic` credential replaced.
pub fn text(text: &str) -> String {
    credentials(&key_values(&urls(text)))
}

/// `Bearer TOKEN` and `Basic BASE64` wherever they appear, with the credential masked: a
/// header under a name no key rule knows (`x-upstream-auth`) still reads as one.
fn credentials(text: &str) -> String {
    const SCHEMES: [&str; 2] = ["Bearer ", "Basic "];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, scheme)) = SCHEMES
        .iter()
        .filter_map(|s| rest.find(s).map(|at| (at, *s)))
        .min()
    {
        let value = at + scheme.len();
        let end = rest[value..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ','))
            .map_or(rest.len(), |n| value + n);
        out.push_str(&rest[..value]);
        if end > value {
            out.push_str(MASK);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every `password=VALUE` (any case, as in `host=h password=pw` or `?password=pw`) with its
/// value masked up to the next space, `&`, `;` or quote.
pub fn key_values(text: &str) -> String {
    const KEY: &str = "password=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find(KEY) {
        let value = from + found + KEY.len();
        let end = text[value..]
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | '"' | '\'' | '`'))
            .map_or(text.len(), |n| value + n);
        out.push_str(&text[from..value]);
        if end > value {
            out.push_str(MASK);
        }
        from = end;
    }
    out.push_str(&text[from..]);
    out
}

fn urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        out.push_str(&authority(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `user:password@host:port` becomes `user:***@host:port`; without a password it is kept.
fn authority(authority: &str) -> String {
    let Some(at) = authority.rfind('@') else {
        return authority.to_owned();
    };
    let (userinfo, host) = authority.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:{MASK}{host}"),
        None => authority.to_owned(),
    }
}

/// A copy of `value` with URL passwords masked in every string and secret keys' values masked.
pub fn json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (text(k), if is_secret_key(k) { mask(v) } else { json(v) }))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A copy of `results` fit to show: every user-typed text that a report renders, redacted.
pub fn results(results: &RunResults) -> RunResults {
    let mut shown = results.clone();
    shown.workload = json(&results.workload);
    shown.workload_file = results.workload_file.as_deref().map(text);
    shown.failure = results.failure.as_deref().map(text);
    for check in &mut shown.checks {
        check.subject = check.subject.as_deref().map(text);
        check.explanation = text(&check.explanation);
    }
    if let Some(r) = &mut shown.resources {
        let watched = r.intervals.iter_mut().flat_map(|i| i.watched.iter_mut());
        watched.for_each(|w| w.watch = text(&w.watch));
    }
    for job in &mut shown.jobs {
        job.name = text(&job.name);
        if let Some(load) = &mut job.load {
            load.verdict = load.verdict.as_deref().map(text);
        }
        job.target = json(&job.target);
        let ops = job.operations.iter_mut().flat_map(|o| o.errors.iter_mut());
        let interval_ops = job.intervals.iter_mut().flat_map(|i| i.ops.iter_mut());
        ops.chain(interval_ops.flat_map(|o| o.errors.iter_mut()))
            .for_each(|e| e.kind = text(&e.kind));
    }
    shown
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    SECRET_KEYS
        .iter()
        .any(|s| key == *s || key.ends_with(&format!("_{s}")))
}

fn mask(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        _ => Value::String(MASK.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked_and_the_rest_kept() {
        assert_eq!(
            text("GET redis://app:hunter2@db:6379/0 then http://h/x"),
            "GET redis://app:***@db:6379/0 then http://h/x"
        );
        assert_eq!(text("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(text("p://a:b:c@h"), "p://a:***@h");
        assert_eq!(text("no url here"), "no url here");
    }

    #[test]
    fn key_value_passwords_are_masked() {
        assert_eq!(
            text("host=127.0.0.1 password=s3cret dbname=test"),
            "host=127.0.0.1 password=*** dbname=test"
        );
        assert_eq!(
            text("x://h/db?user=u&PASSWORD=pw&a=b"),
            "x://h/db?user=u&PASSWORD=***&a=b"
        );
        assert_eq!(text("password="), "password=");
    }

    #[test]
    fn header_secrets_are_masked_in_json() {
        let v = serde_json::json!({"headers": {
            "Authorization": "Bearer abc", "x-api-key": "def", "Cookie": "s=ghi", "accept": "*/*"
        }});
        let shown = json(&v).to_string();
        for secret in ["abc", "def", "ghi"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("*/*"), "{shown}");
    }

    #[test]
    fn bearer_and_basic_credentials_are_masked_under_any_name() {
        let v = serde_json::json!({"headers": {
            "x-upstream-auth": "Bearer abc.def", "x-proxy": "Basic dXNlcjpwdw==", "x-n": "Basic"
        }});
        let shown = json(&v).to_string();
        assert!(
            !shown.contains("abc.def") && !shown.contains("dXNlcjpwdw"),
            "{shown}"
        );
        assert!(shown.contains(r#""Bearer ***""#), "{shown}");
        assert_eq!(text("Bearer"), "Bearer");
        assert_eq!(text("got Bearer t0k, then"), "got Bearer ***, then");
    }

    #[test]
    fn secret_keys_are_masked_in_json() {
        let v = serde_json::json!({
            "url": "mysql://root:pw@127.0.0.1/test",
            "db_password": "pw",
            "nested": [{"token": "abc", "size": 4}],
        });
        let shown = json(&v).to_string();
        assert!(!shown.contains("pw") && !shown.contains("abc"), "{shown}");
        assert!(shown.contains(r#""size":4"#));
    }
}
