//! How a statement's text reads to its server: which parts are SQL, which are quoted (string
//! literals, quoted names) or comments, and where its `{name}` parameters are.
//!
//! Only a `{name}` in the SQL itself is a parameter. One inside quotes or a comment is text the
//! server reads as it stands, so it is never replaced by a placeholder: a placeholder there
//! would be the literal text `$1` or `?`, and the statement would bind a value it never uses.
//! This is a lexer, not a parser: it knows each dialect's quotes and comments and nothing else,
//! which is all that deciding where a placeholder may go needs.

use std::ops::Range;

use super::sql::Dialect;

/// What a stretch of statement text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// SQL the server parses: where parameters go.
    Code,
    /// A string literal: `'...'`, PostgreSQL's `E'...'` and `$tag$...$tag$`, MySQL's `"..."`.
    Literal,
    /// A quoted name: `"..."` in PostgreSQL, `` `...` `` in MySQL.
    QuotedName,
    Comment,
}

/// A `{name}` in a statement: its byte range (braces included), the name, and the part of the
/// text it sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Braced<'a> {
    pub range: Range<usize>,
    pub name: &'a str,
    pub part: Part,
}

/// Every `{name}` of a statement, in order, wherever it sits. Braces around anything but a
/// name (JSON, say) are plain SQL.
pub fn braced_names(sql: &str, dialect: Dialect) -> Vec<Braced<'_>> {
    let mut found = Vec::new();
    for (range, part) in parts(sql, dialect) {
        let offset = range.start;
        let names = names_in(&sql[range]).map(|(r, name)| Braced {
            range: r.start + offset..r.end + offset,
            name,
            part,
        });
        found.extend(names);
    }
    found
}

/// The parameters of a statement: its `{name}`s in the SQL itself, with their byte ranges
/// (braces included), in order.
pub fn placeholders(sql: &str, dialect: Dialect) -> Vec<(Range<usize>, &str)> {
    let braced = braced_names(sql, dialect).into_iter();
    braced
        .filter(|b| b.part == Part::Code)
        .map(|b| (b.range, b.name))
        .collect()
}

/// `{name}`s in `text`, with their ranges in it.
fn names_in(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut rest = 0;
    std::iter::from_fn(move || {
        while let Some(open) = text[rest..].find('{').map(|i| rest + i) {
            let after = &text[open + 1..];
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..len];
            let is_name = !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit());
            if is_name && after[len..].starts_with('}') {
                rest = open + len + 2;
                return Some((open..rest, name));
            }
            rest = open + 1;
        }
        None
    })
}

/// The text cut into its parts, in order, covering all of it. A quote or comment left open
/// runs to the end (the server will refuse the statement).
fn parts(sql: &str, dialect: Dialect) -> Vec<(Range<usize>, Part)> {
    // Every delimiter is ASCII and no byte of a multibyte UTF-8 character is, so the cuts
    // fall between characters.
    let bytes = sql.as_bytes();
    let mut parts = Vec::new();
    let (mut code, mut i) = (0, 0);
    while i < bytes.len() {
        let opened = match dialect {
            Dialect::Postgres => postgres_part(bytes, i),
            Dialect::Mysql => mysql_part(bytes, i),
        };
        let Some((part, end)) = opened else {
            i += 1;
            continue;
        };
        if code < i {
            parts.push((code..i, Part::Code));
        }
        parts.push((i..end, part));
        (code, i) = (end, end);
    }
    if code < bytes.len() {
        parts.push((code..bytes.len(), Part::Code));
    }
    parts
}

/// The quoted part or comment that starts at `i` in PostgreSQL, and where it ends.
fn postgres_part(bytes: &[u8], i: usize) -> Option<(Part, usize)> {
    let next = bytes.get(i + 1).copied();
    let before = i.checked_sub(1).map(|k| bytes[k]);
    match (bytes[i], next) {
        (b'\'', _) => {
            // E'...' takes backslash escapes; a plain literal does not (the default
            // standard_conforming_strings = on).
            let escaped = matches!(before, Some(b'E' | b'e'))
                && !i.checked_sub(2).is_some_and(|k| is_word(bytes[k]));
            Some((Part::Literal, closing(bytes, i + 1, b'\'', escaped)))
        }
        (b'"', _) => Some((Part::QuotedName, closing(bytes, i + 1, b'"', false))),
        (b'-', Some(b'-')) => Some((Part::Comment, line_end(bytes, i))),
        (b'/', Some(b'*')) => Some((Part::Comment, nested_comment_end(bytes, i))),
        // `$` inside a name (`a$1`) or a positional parameter (`$1`) opens nothing.
        (b'$', _) if !before.is_some_and(|b| is_word(b) || b == b'$') => dollar_quoted(bytes, i),
        _ => None,
    }
}

/// The quoted part or comment that starts at `i` in MySQL, and where it ends. Backslash
/// escapes are read as the server's default sql_mode does (no NO_BACKSLASH_ESCAPES); a `"`
/// string is a quoted name under ANSI_QUOTES, quoted all the same.
fn mysql_part(bytes: &[u8], i: usize) -> Option<(Part, usize)> {
    let next = bytes.get(i + 1).copied();
    match (bytes[i], next) {
        (quote @ (b'\'' | b'"'), _) => Some((Part::Literal, closing(bytes, i + 1, quote, true))),
        (b'`', _) => Some((Part::QuotedName, closing(bytes, i + 1, b'`', false))),
        (b'#', _) => Some((Part::Comment, line_end(bytes, i))),
        // `--` starts a comment only before a space or a control character (`1--2` is 3).
        (b'-', Some(b'-')) if bytes.get(i + 2).is_none_or(|&c| c <= b' ') => {
            Some((Part::Comment, line_end(bytes, i)))
        }
        (b'/', Some(b'*')) => {
            // `/*! ... */` (and MariaDB's `/*M! ... */`) is SQL the server runs.
            let rest = &bytes[i + 2..];
            if rest.starts_with(b"!") || rest.starts_with(b"M!") {
                return None;
            }
            let end = find(bytes, i + 2, b"*/").map_or(bytes.len(), |k| k + 2);
            Some((Part::Comment, end))
        }
        _ => None,
    }
}

/// Past the quote that closes a quoted part whose text starts at `from`: a doubled quote is
/// one quote of the text, and so is one after a backslash where backslashes escape.
fn closing(bytes: &[u8], from: usize, quote: u8, backslash: bool) -> usize {
    let mut k = from;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' if backslash => k += 2,
            c if c == quote && bytes.get(k + 1) == Some(&quote) => k += 2,
            c if c == quote => return k + 1,
            _ => k += 1,
        }
    }
    bytes.len()
}

/// A `--` or `#` comment runs to the end of its line.
fn line_end(bytes: &[u8], from: usize) -> usize {
    find(bytes, from, b"\n").unwrap_or(bytes.len())
}

/// PostgreSQL's block comments nest.
fn nested_comment_end(bytes: &[u8], from: usize) -> usize {
    let (mut depth, mut k) = (0u32, from);
    while k + 1 < bytes.len() {
        match &bytes[k..k + 2] {
            b"/*" => (depth, k) = (depth + 1, k + 2),
            b"*/" => {
                depth -= 1;
                k += 2;
                if depth == 0 {
                    return k;
                }
            }
            _ => k += 1,
        }
    }
    bytes.len()
}

/// `$tag$ ... $tag$` (the tag may be empty) starting at `i`, or nothing when `$` starts no
/// tag there.
fn dollar_quoted(bytes: &[u8], i: usize) -> Option<(Part, usize)> {
    let tag_len = bytes[i + 1..].iter().take_while(|&&b| is_word(b)).count();
    let close = i + 1 + tag_len;
    let starts_with_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
    if bytes.get(close) != Some(&b'$') || (tag_len > 0 && starts_with_digit) {
        return None;
    }
    let delimiter = &bytes[i..=close];
    let end = find(bytes, close + 1, delimiter).map_or(bytes.len(), |k| k + delimiter.len());
    Some((Part::Literal, end))
}

/// A byte of a name: a letter, digit or `_`, or part of a non-ASCII letter.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let haystack = bytes.get(from..)?;
    let at = haystack.windows(needle.len()).position(|w| w == needle)?;
    Some(from + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(sql: &str, dialect: Dialect) -> Vec<&str> {
        placeholders(sql, dialect)
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    fn quoted(sql: &str, dialect: Dialect) -> Vec<(&str, Part)> {
        let braced = braced_names(sql, dialect).into_iter();
        braced
            .filter(|b| b.part != Part::Code)
            .map(|b| (b.name, b.part))
            .collect()
    }

    #[test]
    fn placeholders_are_names_in_braces_only() {
        let sql = "SELECT '{\"a\": 1}', {id}, {x1}{y} FROM t WHERE k = {9} AND {bad-name}";
        for dialect in [Dialect::Postgres, Dialect::Mysql] {
            assert_eq!(bound(sql, dialect), ["id", "x1", "y"]);
            let (range, _) = &placeholders(sql, dialect)[0];
            assert_eq!(&sql[range.clone()], "{id}");
        }
    }

    #[test]
    fn postgres_quotes_and_comments_hold_no_placeholders() {
        let pg = Dialect::Postgres;
        let sql = "SELECT 'it''s {a}', \"{b}\", E'\\' {c}', $$ {d} $$, $q$ {e} $q$, {f} \
                   -- {g}\n /* {h} /* nested */ {i} */ {j}";
        assert_eq!(bound(sql, pg), ["f", "j"]);
        assert_eq!(
            quoted(sql, pg),
            [
                ("a", Part::Literal),
                ("b", Part::QuotedName),
                ("c", Part::Literal),
                ("d", Part::Literal),
                ("e", Part::Literal),
                ("g", Part::Comment),
                ("h", Part::Comment),
                ("i", Part::Comment),
            ]
        );
        // Outside E'...' a backslash is text: the quote after it closes the literal.
        assert_eq!(bound("SELECT 'a\\', {k}", pg), ["k"]);
        // `$1` and a `$` inside a name open no dollar quote.
        assert_eq!(bound("SELECT $1, a$b, {k}, $2$", pg), ["k"]);
        // Unclosed, a quote runs to the end.
        assert_eq!(bound("SELECT '{k}", pg), Vec::<&str>::new());
    }

    #[test]
    fn mysql_quotes_and_comments_hold_no_placeholders() {
        let my = Dialect::Mysql;
        let sql = "SELECT 'it\\'s {a}', \"say \"\"{b}\"\"\", `{c}`, {d} # {e}\n\
                   -- {f}\n 1--{g}, /* {h} */ /*!50000 {i} */";
        assert_eq!(bound(sql, my), ["d", "g", "i"]);
        assert_eq!(
            quoted(sql, my),
            [
                ("a", Part::Literal),
                ("b", Part::Literal),
                ("c", Part::QuotedName),
                ("e", Part::Comment),
                ("f", Part::Comment),
                ("h", Part::Comment),
            ]
        );
        // `$` means nothing to MySQL.
        assert_eq!(bound("SELECT $$ {k} $$", my), ["k"]);
    }
}
