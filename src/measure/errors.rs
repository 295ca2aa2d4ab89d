//! Error kinds as counted values. A failed operation is data, not a reason to stop.

use std::fmt;

/// What went wrong with one operation. Small and `Copy`, so counting one allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// An OS error number from an I/O call.
    Errno(i32),
    /// An I/O completed with fewer bytes than asked (end of file or a device's limit).
    ShortTransfer,
    Connect,
    Timeout,
    Protocol,
    /// A status the target reported (an HTTP status, say) that the job counts as an error.
    Status(u16),
    /// The server answered with an error reply (Redis `-ERR`, `-WRONGTYPE`...).
    Reply,
    /// A SQL server's error, by the class of its SQLSTATE (the first two characters: `40`
    /// for a rolled-back transaction, `23` for a constraint violation...).
    SqlState([u8; 2]),
    /// The TLS handshake failed: an untrusted certificate, a wrong host name, no shared
    /// protocol.
    Tls,
    /// The peer reset or closed the connection while a request was on it.
    Reset,
    /// A response arrived but failed the named check (HTTP `checks`, a journey's capture).
    /// The name lives for the whole run.
    Check(&'static str),
    /// A drawn value its placeholder cannot take (a sequence past int2's range, say), by the
    /// parameter's name, which lives for the whole run; nothing was sent.
    Bind(&'static str),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::Errno(n) => match errno_name(n) {
                Some(name) => f.write_str(name),
                None => write!(f, "errno {n}"),
            },
            ErrorKind::ShortTransfer => f.write_str("short transfer"),
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Protocol => f.write_str("protocol"),
            ErrorKind::Status(code) => write!(f, "status {code}"),
            ErrorKind::Reply => f.write_str("server error reply"),
            ErrorKind::SqlState(class) => {
                let class = std::str::from_utf8(&class).unwrap_or("??");
                match sqlstate_class_name(class) {
                    Some(name) => write!(f, "sqlstate {class} ({name})"),
                    None => write!(f, "sqlstate {class}"),
                }
            }
            ErrorKind::Tls => f.write_str("tls"),
            ErrorKind::Reset => f.write_str("reset"),
            ErrorKind::Check(name) => write!(f, "check failed: {name}"),
            ErrorKind::Bind(name) => write!(f, "bind failed: {name}"),
        }
    }
}

/// The symbolic names users search for; the numeric value is kept alongside in results.
fn errno_name(n: i32) -> Option<&'static str> {
    Some(match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EDQUOT => "EDQUOT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ECANCELED => "ECANCELED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNRESET => "ECONNRESET",
        libc::EPIPE => "EPIPE",
        libc::ENXIO => "ENXIO",
        _ => return None,
    })
}

/// The standard's names for the classes a load test meets.
fn sqlstate_class_name(class: &str) -> Option<&'static str> {
    Some(match class {
        "08" => "connection exception",
        "0A" => "feature not supported",
        "22" => "data exception",
        "23" => "integrity constraint violation",
        "25" => "invalid transaction state",
        "28" => "invalid authorization",
        "3D" => "invalid catalog name",
        "40" => "transaction rollback",
        "42" => "syntax error or access rule violation",
        "53" => "insufficient resources",
        "54" => "program limit exceeded",
        "55" => "object not in prerequisite state",
        "57" => "operator intervention",
        "58" => "system error",
        "HY" => "general error",
        "XX" => "internal error",
        _ => return None,
    })
}

impl ErrorKind {
    pub fn errno(self) -> Option<i32> {
        match self {
            ErrorKind::Errno(n) => Some(n),
            _ => None,
        }
    }
}

/// Counts per error kind. Linear search: a job sees a handful of kinds at most, and a vector
/// that has already seen a kind never allocates again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorTally {
    counts: Vec<(ErrorKind, u64)>,
}

impl ErrorTally {
    #[inline]
    pub fn add(&mut self, kind: ErrorKind, n: u64) {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, count)) => *count += n,
            None => self.counts.push((kind, n)),
        }
    }

    pub fn merge(&mut self, other: &ErrorTally) {
        for &(kind, n) in &other.counts {
            self.add(kind, n);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        self.counts.iter().copied()
    }

    pub fn clear(&mut self) {
        self.counts.clear();
    }
}
