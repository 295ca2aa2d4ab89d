//! One lane of an HTTP job: one virtual user. It picks a request (or the next step of its
//! journey), renders it, sends it on a pooled connection, follows redirects if asked, checks
//! the response, takes its captures, and records the outcome.
//!
//! Latency runs from the intended start (the open model's slot, or the moment the closed
//! model's user was ready) to the end of the response body, so a wait for a free connection
//! is in it; service time runs from the send. A request that fails is counted by kind and its
//! latency goes to the failed histogram, never to the successful one.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use minijinja::Value;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;

use super::plan::{Capture, Op, Plan, Rendered, Rule};
use super::pool::{Pool, Sender};
use crate::load::lanes::{Lane, Shared, Ticket};
use crate::measure::{CounterId, ErrorKind, OpId};

/// The job's named counters, in [`CounterId`] order.
pub(super) const COUNTERS: [&str; 3] = [
    "connections_opened",
    "redirects_followed",
    "journeys_completed",
];
const OPENED: CounterId = CounterId(0);
const REDIRECTS: CounterId = CounterId(1);
const JOURNEYS: CounterId = CounterId(2);

/// How long a lane waits after its connection could not be opened before it tries again, so
/// a dead target is not hammered.
const BACKOFF: Duration = Duration::from_millis(50);

/// What the lane does with redirects.
#[derive(Debug, Clone, Copy)]
pub(super) struct Redirects {
    pub follow: bool,
    pub max: u32,
}

pub(super) struct HttpLane {
    index: usize,
    pool: Rc<Pool>,
    plan: Arc<Plan>,
    rng: SmallRng,
    http2: bool,
    timeout: Duration,
    redirects: Redirects,
    /// The journey under way and the index of its next step.
    journey: Option<(usize, usize)>,
    captures: BTreeMap<String, Value>,
    /// This user's cookies, name and value, in the order they were set.
    cookies: Vec<(String, String)>,
}

/// What one exchange (with its redirects) came to.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    hops: u64,
    /// Bytes sent and received.
    bytes: u64,
}

impl HttpLane {
    pub fn new(
        index: usize,
        pool: Rc<Pool>,
        plan: Arc<Plan>,
        seed: u64,
        (http2, timeout, redirects): (bool, Duration, Redirects),
    ) -> HttpLane {
        HttpLane {
            index,
            pool,
            plan,
            rng: SmallRng::seed_from_u64(seed),
            http2,
            timeout,
            redirects,
            journey: None,
            captures: BTreeMap::new(),
            cookies: Vec::new(),
        }
    }

    /// The op to send next, and the think time to wait first (journeys, closed model).
    fn next_op(&mut self) -> (OpId, Duration) {
        if let Some((journey, step)) = self.journey {
            let Some(j) = self.plan.journey(journey) else {
                unreachable!("a journey index comes from the plan")
            };
            return (OpId((j.first_op + step) as u8), j.think);
        }
        let (index, op) = self.plan.pick(&mut self.rng);
        if self.plan.journey(index).is_some() {
            self.journey = Some((index, 0));
            self.captures.clear();
            self.cookies.clear();
        }
        (op, Duration::ZERO)
    }

    /// Moves the journey on after a step; a failed step ends the user's journey, since
    /// later steps may need what it would have captured.
    fn step_done(&mut self, ok: bool, shared: &Shared, now: Instant) {
        let Some((journey, step)) = self.journey else {
            return;
        };
        let steps = self.plan.journey(journey).map_or(0, |j| j.steps);
        if ok && step + 1 < steps {
            self.journey = Some((journey, step + 1));
            return;
        }
        if ok {
            shared.recorder.borrow_mut().count(JOURNEYS, 1, now);
        }
        self.journey = None;
    }

    async fn send_one(&mut self, ticket: &Ticket, shared: &Shared) {
        let (op, think) = self.next_op();
        let started_journey = self.journey.is_some_and(|(_, step)| step > 0);
        if started_journey && !think.is_zero() {
            tokio::time::sleep(think).await;
        }
        let intended = ticket.intended.unwrap_or_else(Instant::now);
        let rendered = match self.plan.render(op, &mut self.rng, &self.captures) {
            Ok(r) => r,
            Err(unsendable) => {
                tracing::debug!(message = unsendable.message(), "request not rendered");
                let end = Instant::now();
                let kind = unsendable.kind();
                shared
                    .recorder
                    .borrow_mut()
                    .record_failed(op, intended, end, kind);
                return self.step_done(false, shared, end);
            }
        };
        let spec = &self.plan.ops[op.0 as usize];
        let reads_body = spec.reads_body;
        let outcome = self.exchange(rendered, reads_body).await;
        self.note_opened(shared);
        let end = Instant::now();
        let ok = match outcome {
            Ok((answer, sent)) => {
                let open = ticket.intended.is_some();
                self.judge(op, answer, (intended, sent, end, open), shared)
            }
            Err(kind) => {
                shared
                    .recorder
                    .borrow_mut()
                    .record_failed(op, intended, end, kind);
                if kind == ErrorKind::Connect || kind == ErrorKind::Tls {
                    back_off(shared).await;
                }
                false
            }
        };
        self.step_done(ok, shared, end);
    }

    fn note_opened(&self, shared: &Shared) {
        let opened = self.pool.opened.replace(0);
        if opened > 0 {
            shared
                .recorder
                .borrow_mut()
                .count(OPENED, opened, Instant::now());
        }
    }

    /// Checks the answer and records it; true when it passed.
    fn judge(
        &mut self,
        op: OpId,
        answer: Answer,
        (intended, sent, end, open): (Instant, Instant, Instant, bool),
        shared: &Shared,
    ) -> bool {
        let spec = &self.plan.ops[op.0 as usize];
        let mut recorder = shared.recorder.borrow_mut();
        if answer.hops > 0 {
            recorder.count(REDIRECTS, answer.hops, end);
        }
        if let Err(kind) = verdict(spec, &answer) {
            recorder.record_failed(op, intended, end, kind);
            return false;
        }
        for (name, capture, label) in &spec.captures {
            match take(capture, &answer) {
                Some(value) => {
                    self.captures.insert(name.clone(), value);
                }
                None => {
                    recorder.record_failed(op, intended, end, ErrorKind::Check(label));
                    return false;
                }
            }
        }
        if open {
            recorder.record_open(op, intended, sent, end, answer.bytes);
        } else {
            recorder.record(op, intended, end, answer.bytes);
        }
        true
    }

    /// Sends the request (and, if asked, its redirects) within the timeout. Returns the last
    /// response and when the first send went out.
    async fn exchange(
        &mut self,
        rendered: Rendered,
        reads_body: bool,
    ) -> Result<(Answer, Instant), ErrorKind> {
        let mut sent = None;
        let deadline_from = Instant::now();
        let timeout = self.timeout;
        let run = self.follow(rendered, reads_body, &mut sent);
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(answer)) => Ok((answer, sent.unwrap_or(deadline_from))),
            Ok(Err(kind)) => Err(kind),
            Err(_) => Err(ErrorKind::Timeout),
        }
    }

    async fn follow(
        &mut self,
        mut rendered: Rendered,
        reads_body: bool,
        sent: &mut Option<Instant>,
    ) -> Result<Answer, ErrorKind> {
        let mut hops = 0u64;
        let mut bytes = 0u64;
        loop {
            self.add_cookies(&mut rendered.headers);
            let (head, body, moved) = self.once(&rendered, reads_body, sent).await?;
            bytes += moved;
            self.keep_cookies(&head);
            let location = redirect_target(&head, &rendered.uri);
            match location {
                Some(next) if self.redirects.follow => {
                    if hops >= u64::from(self.redirects.max) {
                        return Err(ErrorKind::Check("max_redirects exceeded"));
                    }
                    if !self.plan.origin.owns(&next) {
                        return Err(ErrorKind::Check("redirect off the base URL's origin"));
                    }
                    hops += 1;
                    rendered = redirected(rendered, head.status(), next);
                }
                _ => {
                    let (parts, ()) = head.into_parts();
                    return Ok(Answer {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                        hops,
                        bytes,
                    });
                }
            }
        }
    }

    /// One request and its whole response on a pooled connection.
    async fn once(
        &self,
        rendered: &Rendered,
        reads_body: bool,
        sent: &mut Option<Instant>,
    ) -> Result<(Response<()>, Bytes, u64), ErrorKind> {
        let mut lent = self.pool.get(self.index).await?;
        let request = self.shape(rendered);
        let out_bytes = rendered.body.len() as u64;
        sent.get_or_insert_with(Instant::now);
        let response = match &mut lent.sender {
            Sender::H1(sender) => sender.send_request(request).await,
            Sender::H2(sender) => sender.send_request(request).await,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.pool.lost(self.index);
                return Err(classify(&e));
            }
        };
        let closes = response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let (parts, body) = response.into_parts();
        let (body, in_bytes) = match read_body(body, reads_body).await {
            Ok(read) => read,
            Err(e) => {
                self.pool.lost(self.index);
                return Err(classify(&e));
            }
        };
        self.pool.put(lent, !closes);
        Ok((Response::from_parts(parts, ()), body, out_bytes + in_bytes))
    }

    /// The request as this connection's protocol wants it: HTTP/1.1 takes the path and a
    /// Host header, HTTP/2 the whole URI.
    fn shape(&self, rendered: &Rendered) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().method(rendered.method.clone());
        if self.http2 {
            builder = builder.uri(rendered.uri.clone());
        } else {
            let path = rendered
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            builder = builder.uri(path);
        }
        let mut request = builder
            .body(Full::new(rendered.body.clone()))
            .expect("a rendered request is valid");
        *request.headers_mut() = rendered.headers.clone();
        if !self.http2 {
            let headers = request.headers_mut();
            if let Some(authority) = rendered.uri.authority()
                && !headers.contains_key(http::header::HOST)
                && let Ok(host) = http::HeaderValue::try_from(authority.as_str())
            {
                headers.insert(http::header::HOST, host);
            }
            if !self.pool.keep_alive() {
                headers.insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
        }
        request
    }

    fn add_cookies(&self, headers: &mut HeaderMap) {
        if self.cookies.is_empty() {
            return;
        }
        let line: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if let Ok(value) = http::HeaderValue::try_from(line.join("; ")) {
            headers.insert(http::header::COOKIE, value);
        }
    }

    /// Journeys only: a user's cookies live from its first step to its last. Domain and path
    /// attributes are not matched, since every request goes to the one origin.
    fn keep_cookies(&mut self, head: &Response<()>) {
        if self.journey.is_none() {
            return;
        }
        for value in head.headers().get_all(http::header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = cookie::Cookie::parse(text) else {
                continue;
            };
            let (name, value) = (cookie.name().to_owned(), cookie.value().to_owned());
            self.cookies.retain(|(n, _)| *n != name);
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative());
            if !expired {
                self.cookies.push((name, value));
            }
        }
    }
}

/// The status rule first (any status below 400 when the request has no status check), then
/// the other checks in order; the first that fails is the request's error.
fn verdict(op: &Op, answer: &Answer) -> Result<(), ErrorKind> {
    let status = answer.status.as_u16();
    if !op.has_status_check && status >= 400 {
        return Err(ErrorKind::Status(status));
    }
    for check in &op.checks {
        let passed = match &check.rule {
            Rule::Status(want) => status == *want,
            Rule::Class(class) => status / 100 == *class,
            _ => continue,
        };
        if !passed {
            return Err(ErrorKind::Status(status));
        }
    }
    for check in &op.checks {
        let passed = match &check.rule {
            Rule::Status(_) | Rule::Class(_) => continue,
            Rule::Header {
                name,
                equals,
                contains,
            } => answer.headers.get(name).is_some_and(|v| {
                let text = String::from_utf8_lossy(v.as_bytes());
                equals.as_ref().is_none_or(|e| text == e.as_str())
                    && contains.as_ref().is_none_or(|c| text.contains(c.as_str()))
            }),
            Rule::Body(text) => memchr_contains(&answer.body, text.as_bytes()),
            Rule::Json { pointer, equals } => json(&answer.body).is_some_and(|doc| {
                doc.pointer(pointer)
                    .is_some_and(|found| equals.as_ref().is_none_or(|e| found == e))
            }),
        };
        if !passed {
            return Err(ErrorKind::Check(check.label));
        }
    }
    Ok(())
}

fn memchr_contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn json(body: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(body).ok()
}

fn take(capture: &Capture, answer: &Answer) -> Option<Value> {
    match capture {
        Capture::Header(name) => {
            let value = answer.headers.get(name)?.to_str().ok()?;
            Some(Value::from(value.to_owned()))
        }
        Capture::Json(pointer) => {
            let doc = json(&answer.body)?;
            match doc.pointer(pointer)? {
                serde_json::Value::String(s) => Some(Value::from(s.clone())),
                other => Some(Value::from(minijinja::value::Serde(other.clone()))),
            }
        }
    }
}

/// Where a 3xx response with a Location points, resolved against the request's URI.
fn redirect_target(head: &Response<()>, from: &Uri) -> Option<Uri> {
    if !head.status().is_redirection() || head.status() == StatusCode::NOT_MODIFIED {
        return None;
    }
    let location = head.headers().get(http::header::LOCATION)?.to_str().ok()?;
    let uri: Uri = location.parse().ok()?;
    if uri.scheme().is_some() {
        return Some(uri);
    }
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let base = from.path();
        let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{location}")
    };
    let mut parts = from.clone().into_parts();
    parts.path_and_query = path.parse().ok();
    Uri::from_parts(parts).ok()
}

/// The next hop's request: 303 (and 301/302 after anything but GET or HEAD, as browsers do)
/// becomes a GET without a body; 307 and 308 repeat the request.
fn redirected(mut rendered: Rendered, status: StatusCode, next: Uri) -> Rendered {
    let keeps_method = matches!(
        status,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
    ) || rendered.method == Method::GET
        || rendered.method == Method::HEAD;
    if !keeps_method {
        rendered.method = Method::GET;
        rendered.body = Bytes::new();
        rendered.headers.remove(http::header::CONTENT_TYPE);
        rendered.headers.remove(http::header::CONTENT_LENGTH);
    }
    rendered.headers.remove(http::header::HOST);
    rendered.uri = next;
    rendered
}

/// The whole body: kept when a check or capture reads it, otherwise only counted.
async fn read_body(mut body: Incoming, keep: bool) -> Result<(Bytes, u64), hyper::Error> {
    if keep {
        let bytes = body.collect().await?.to_bytes();
        let n = bytes.len() as u64;
        return Ok((bytes, n));
    }
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            n += data.len() as u64;
        }
    }
    Ok((Bytes::new(), n))
}

/// What a failed exchange counts as: a connection the peer reset or closed mid-request is
/// `reset`; a malformed response `protocol`.
fn classify(error: &hyper::Error) -> ErrorKind {
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        return ErrorKind::Reset;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as Io;
            return match io.kind() {
                Io::ConnectionReset
                | Io::ConnectionAborted
                | Io::BrokenPipe
                | Io::UnexpectedEof => ErrorKind::Reset,
                Io::TimedOut => ErrorKind::Timeout,
                _ => ErrorKind::Reset,
            };
        }
        source = cause.source();
    }
    ErrorKind::Protocol
}

async fn back_off(shared: &Shared) {
    let left = shared.stop.end.saturating_duration_since(Instant::now());
    tokio::time::sleep(BACKOFF.min(left)).await;
}

impl Lane for HttpLane {
    async fn start(&mut self, _shared: &Shared) {}

    async fn issue(&mut self, ticket: Ticket, shared: &Shared) {
        for _ in 0..ticket.count {
            self.send_one(&ticket, shared).await;
        }
    }
}
