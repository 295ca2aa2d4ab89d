//! Drivers turn "issue one operation now" into I/O against one kind of target and report each
//! outcome to a [`Recorder`](crate::measure::Recorder). They do not parse files, print, or
//! decide what to keep; the runner starts them and the recorder keeps the figures.

pub mod disk;
pub mod http;
pub mod mysql;
pub mod null;
pub mod postgres;
pub mod redis;
pub mod sql;

/// Why a job could not start. Raised before any load, so a run never half-starts.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The workload asks for something this target cannot do (an unaligned direct-I/O block
    /// size, a file plimsoll may not write, a URL its client library cannot read). The user
    /// fixes the workload; exit code 2.
    #[error("job `{job}`: {message}")]
    Input {
        job: String,
        /// The key at fault, as a path inside the job (`url`, `requests[2].url`), so the
        /// message can point at it; None when it is the job as a whole.
        key: Option<String>,
        message: String,
    },
    /// The machine could not provide what a valid workload needs (no space, no permission, a
    /// failed layout). Exit code 3.
    #[error("job `{job}`: {}", Causes(source))]
    Failed { job: String, source: anyhow::Error },
}

impl SetupError {
    /// The workload's fault, at `key` of job `job`.
    pub fn input_at(job: &str, key: impl Into<String>, message: String) -> SetupError {
        SetupError::Input {
            job: job.to_owned(),
            key: Some(key.into()),
            message,
        }
    }
}

/// An error and its causes, `error: cause: cause`, each told once. Client libraries often put
/// their source's text in their own message and return the source as well (the Redis client
/// with an I/O error), so `{:#}` would repeat it; a cause whose text is already shown is left
/// out.
pub struct Causes<'a>(pub &'a anyhow::Error);

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = String::new();
        for cause in self.0.chain() {
            let text = cause.to_string();
            if shown.contains(&text) {
                continue;
            }
            if !shown.is_empty() {
                shown.push_str(": ");
            }
            shown.push_str(&text);
        }
        // mysql_async words an I/O error `Input/output error: Input/output error: ...` in its
        // own message; a part said twice in a row is said once.
        let mut parts: Vec<&str> = shown.split(": ").collect();
        parts.dedup();
        f.write_str(&parts.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_told_once() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        #[derive(Debug, thiserror::Error)]
        #[error("{0}")]
        struct Echo(#[source] std::io::Error);
        let error = anyhow::Error::new(Echo(refused)).context("connecting");
        assert_eq!(Causes(&error).to_string(), "connecting: connection refused");
        let twice = anyhow::anyhow!("I/O error: I/O error: refused").context("connecting");
        assert_eq!(Causes(&twice).to_string(), "connecting: I/O error: refused");
        let plain = anyhow::anyhow!("no space").context("laying out the file");
        assert_eq!(Causes(&plain).to_string(), "laying out the file: no space");
    }
}
