//! RESP on the hot path: commands packed straight into a lane's write buffer, and a reader
//! that classifies each reply in place (a GET's value present or nil, an error reply, or
//! anything else) without building a value for it.
//!
//! The reader is restartable: it looks at the bytes received so far and either finds one
//! whole reply at their start, says more bytes are needed, or says the bytes can never be
//! RESP. Both RESP2 and the RESP3 types a `HELLO 3` connection may answer are known.

/// What one reply was, as far as the measurement needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// A bulk string of this many bytes (a GET's hit).
    Bulk(u64),
    /// A null bulk string, null array or RESP3 null (a GET's miss).
    Nil,
    /// An error reply (`-ERR ...`, RESP3 `!` blob error).
    Error,
    /// A status, integer, array or any other reply: success with nothing to count.
    Other,
}

/// The bytes are not RESP: the connection cannot be read any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// Redis's own default cap on a bulk string (`proto-max-bulk-len`); a larger length is
/// taken as garbage rather than waited for.
const MAX_BULK: u64 = 512 * 1024 * 1024;
/// Elements of one aggregate at most, for the same reason.
const MAX_ELEMENTS: u64 = 1 << 32;
/// A header or status line longer than this, still without its CRLF, is garbage.
const MAX_LINE: usize = 64 * 1024;

/// One whole reply at the start of `buf` and its length in bytes, or `None` when `buf`
/// ends before the reply does.
pub(super) fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, Malformed> {
    let mut pos = 0;
    loop {
        let Some((kind, line, next)) = header(buf, pos)? else {
            return Ok(None);
        };
        pos = next;
        let reply = match kind {
            // A big number's digits go unchecked: it may be longer than any integer here.
            b'+' | b',' | b'#' | b'(' => Reply::Other,
            b'-' => Reply::Error,
            b':' => {
                integer(line)?;
                Reply::Other
            }
            b'_' => Reply::Nil,
            b'$' | b'=' | b'!' => match length(line, MAX_BULK)? {
                None => Reply::Nil,
                Some(n) => {
                    let Some(after) = blob(buf, pos, n)? else {
                        return Ok(None);
                    };
                    pos = after;
                    if kind == b'!' {
                        Reply::Error
                    } else {
                        Reply::Bulk(n)
                    }
                }
            },
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let Some(n) = length(line, MAX_ELEMENTS)? else {
                    return Ok(Some((Reply::Nil, pos)));
                };
                let elements = if matches!(kind, b'%' | b'|') {
                    2 * n
                } else {
                    n
                };
                let Some(after) = skip(buf, pos, elements)? else {
                    return Ok(None);
                };
                pos = after;
                // An attribute comes before the reply it annotates: that reply follows.
                if kind == b'|' {
                    continue;
                }
                Reply::Other
            }
            _ => return Err(Malformed),
        };
        return Ok(Some((reply, pos)));
    }
}

/// Skips `count` whole values from `pos`, nested ones included, without recursion; returns
/// where the last one ends.
fn skip(buf: &[u8], mut pos: usize, mut count: u64) -> Result<Option<usize>, Malformed> {
    while count > 0 {
        let Some((kind, line, next)) = header(buf, pos)? else {
            return Ok(None);
        };
        pos = next;
        count -= 1;
        match kind {
            b'+' | b'-' | b',' | b'#' | b'_' | b'(' => {}
            b':' => integer(line)?,
            b'$' | b'=' | b'!' => {
                if let Some(n) = length(line, MAX_BULK)? {
                    let Some(after) = blob(buf, pos, n)? else {
                        return Ok(None);
                    };
                    pos = after;
                }
            }
            b'*' | b'~' | b'>' => count += length(line, MAX_ELEMENTS)?.unwrap_or(0),
            b'%' => count += 2 * length(line, MAX_ELEMENTS)?.unwrap_or(0),
            // The attribute's pairs, and the value it annotates still to come.
            b'|' => count += 2 * length(line, MAX_ELEMENTS)?.unwrap_or(0) + 1,
            _ => return Err(Malformed),
        }
    }
    Ok(Some(pos))
}

/// A reply's first line: its type byte, the rest of the line (without CRLF), and where the
/// next line starts.
type Header<'a> = (u8, &'a [u8], usize);

fn header(buf: &[u8], pos: usize) -> Result<Option<Header<'_>>, Malformed> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let rest = &buf[pos + 1..];
    let window = &rest[..rest.len().min(MAX_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(at) if at > 0 && window[at - 1] == b'\r' => {
            Ok(Some((kind, &window[..at - 1], pos + 1 + at + 1)))
        }
        Some(_) => Err(Malformed),
        None if rest.len() >= MAX_LINE => Err(Malformed),
        None => Ok(None),
    }
}

/// `n` bytes of a bulk string from `pos`, then its CRLF; returns where it ends.
fn blob(buf: &[u8], pos: usize, n: u64) -> Result<Option<usize>, Malformed> {
    let end = pos + n as usize;
    match buf.get(end..end + 2) {
        None => Ok(None),
        Some(b"\r\n") => Ok(Some(end + 2)),
        Some(_) => Err(Malformed),
    }
}

/// A length line: digits up to `max`, or `-1` for a null.
fn length(line: &[u8], max: u64) -> Result<Option<u64>, Malformed> {
    if line == b"-1" {
        return Ok(None);
    }
    let n = digits(line)?;
    if n > max {
        return Err(Malformed);
    }
    Ok(Some(n))
}

fn integer(line: &[u8]) -> Result<(), Malformed> {
    digits(line.strip_prefix(b"-").unwrap_or(line)).map(|_| ())
}

fn digits(line: &[u8]) -> Result<u64, Malformed> {
    if line.is_empty() || line.len() > 19 {
        return Err(Malformed);
    }
    line.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            Ok(n * 10 + u64::from(b - b'0'))
        } else {
            Err(Malformed)
        }
    })
}

/// Appends a command's array header: `*<words>\r\n`.
pub(super) fn push_array(out: &mut Vec<u8>, words: usize) {
    out.push(b'*');
    push_decimal(out, words as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends one word of a command as a bulk string.
pub(super) fn push_bulk(out: &mut Vec<u8>, word: &[u8]) {
    push_bulk_header(out, word.len());
    out.extend_from_slice(word);
    out.extend_from_slice(b"\r\n");
}

/// Appends `$<len>\r\n`, for a word the caller writes itself (then its CRLF).
pub(super) fn push_bulk_header(out: &mut Vec<u8>, len: usize) {
    out.push(b'$');
    push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal: the formatting machinery of `write!` showed in profiles.
pub(super) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// How many digits `n` has in decimal.
pub(super) fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each reply and what it must read as.
    const REPLIES: &[(&[u8], Reply)] = &[
        (b"+OK\r\n", Reply::Other),
        (b"-WRONGTYPE Operation against a key\r\n", Reply::Error),
        (b":1234\r\n", Reply::Other),
        (b":-5\r\n", Reply::Other),
        (b"$5\r\nhello\r\n", Reply::Bulk(5)),
        (b"$0\r\n\r\n", Reply::Bulk(0)),
        (b"$-1\r\n", Reply::Nil),
        (b"*-1\r\n", Reply::Nil),
        (b"_\r\n", Reply::Nil),
        (b"*0\r\n", Reply::Other),
        (b"*2\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n", Reply::Other),
        (b"%1\r\n+k\r\n*1\r\n$2\r\nab\r\n", Reply::Other),
        (b"|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n", Reply::Bulk(2)),
        (b"!9\r\nERR stuck\r\n", Reply::Error),
        (b"#t\r\n", Reply::Other),
        (b",1.5\r\n", Reply::Other),
        (b"$4\r\na\r\nb\r\n", Reply::Bulk(4)),
    ];

    #[test]
    fn every_kind_of_reply_is_classified_and_measured() {
        for &(bytes, want) in REPLIES {
            assert_eq!(parse(bytes), Ok(Some((want, bytes.len()))), "{bytes:?}");
        }
    }

    #[test]
    fn a_reply_split_at_any_byte_waits_for_the_rest() {
        for &(bytes, want) in REPLIES {
            for cut in 0..bytes.len() {
                assert_eq!(parse(&bytes[..cut]), Ok(None), "{bytes:?} cut at {cut}");
            }
            // What follows the reply is the next reply's, not this one's.
            let mut two = bytes.to_vec();
            two.extend_from_slice(b"+OK\r\n");
            assert_eq!(parse(&two), Ok(Some((want, bytes.len()))), "{bytes:?}");
        }
    }

    #[test]
    fn replies_fed_a_byte_at_a_time_come_out_whole_and_in_order() {
        let stream: Vec<u8> = REPLIES
            .iter()
            .flat_map(|(b, _)| b.iter().copied())
            .collect();
        let mut buffer = Vec::new();
        let mut seen = Vec::new();
        for &byte in &stream {
            buffer.push(byte);
            while let Some((reply, len)) = parse(&buffer).unwrap() {
                seen.push(reply);
                buffer.drain(..len);
            }
        }
        assert!(buffer.is_empty());
        let want: Vec<Reply> = REPLIES.iter().map(|&(_, r)| r).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn bytes_that_are_not_resp_are_malformed_not_waited_for() {
        let garbage: &[&[u8]] = &[
            b"@oops\r\n",
            b"HTTP/1.1 400 Bad Request\r\n",
            b"$abc\r\n",
            b"$3\r\nabcde\r\n",
            b":12x\r\n",
            b"+OK\n",
            b"*1\r\n?\r\n",
            b"$99999999999999\r\n",
            b"$-2\r\n",
        ];
        for &bytes in garbage {
            assert_eq!(parse(bytes), Err(Malformed), "{bytes:?}");
        }
        let endless = vec![b'+'; MAX_LINE + 2];
        assert_eq!(parse(&endless), Err(Malformed));
    }

    #[test]
    fn commands_pack_as_resp_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        push_array(&mut out, 2);
        push_bulk(&mut out, b"GET");
        push_bulk(&mut out, b"key:10");
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$6\r\nkey:10\r\n");
        for n in [0, 9, 10, 99, 100, 12_345, u64::MAX] {
            let mut text = Vec::new();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string().as_bytes());
            assert_eq!(decimal_len(n), text.len());
        }
    }
}
