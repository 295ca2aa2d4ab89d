//! The HTTP job as the user writes it: the target's base URL, the connection pool and its
//! protocol, weighted requests or user journeys, the values templates draw from, and the
//! checks a response must pass.
//!
//! Values are checked here, templates included (their syntax, and that every name they use
//! is a value or an earlier step's capture). Files named by the job (`body_file`, CSV values,
//! `tls_ca`) are read when the job is prepared, before any load. URLs are kept as written but
//! serialized with any password replaced by `***`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize, Serializer};

use super::load_model::{self, LoadSpec};
use super::spans::{FieldPath, Finding};
use super::units::HumanDuration;
use super::validate;
use super::{Distribution, redact_url};

/// Connections per job: each is a socket.
pub const MAX_HTTP_CONNECTIONS: u32 = 10_000;
/// Requests in flight on one HTTP/2 connection, closed model.
pub const MAX_STREAMS: u32 = 1_000;
/// Requests plus journey steps: each is an operation kind of its own in the results.
pub const MAX_HTTP_OPS: usize = 255;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpJob {
    pub name: String,
    /// `http://host:port` or `https://host:port`, with an optional path that request paths
    /// are appended to. Shown with any password as `***`.
    #[serde(serialize_with = "serialize_redacted")]
    pub base_url: String,
    /// `1.1` or `2`. HTTP/2 over `http://` is spoken with prior knowledge (h2c). Default 1.1.
    #[serde(default)]
    pub http_version: HttpVersion,
    /// Reuse connections between requests. Off: one new connection per request, closed after
    /// its response. Default true.
    #[serde(default = "yes")]
    pub keep_alive: bool,
    /// The pool: connections open at most at once, spread over `threads`. Default 1.
    #[serde(default = "one")]
    pub connections: u32,
    /// HTTP/2, closed model: requests in flight on each connection. Default 1.
    #[serde(default = "one")]
    pub streams: u32,
    /// Client threads, each with its own event loop. Default 1.
    #[serde(default = "one")]
    pub threads: u32,
    /// How long opening a connection (TCP and TLS) may take before it counts as a timeout.
    /// Default 5 s.
    #[serde(default = "five_seconds")]
    pub connect_timeout: HumanDuration,
    /// How long a request may take from its send to the end of the response body, redirects
    /// included. Default 30 s. An idle pooled connection never times out.
    #[serde(default = "thirty_seconds")]
    pub timeout: HumanDuration,
    /// Follow 3xx responses with a `Location`, each hop counted. Default false: a redirect
    /// is the response.
    #[serde(default)]
    pub follow_redirects: bool,
    /// With `follow_redirects`: hops at most per request; one more is an error. Default 5.
    #[serde(default = "five")]
    pub max_redirects: u32,
    /// `https://` only: a PEM file of the CA certificates to trust in place of the system's.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// `https://` only: accept any server certificate, for self-signed test targets.
    #[serde(default)]
    pub tls_insecure: bool,
    /// Headers sent with every request (a request's own headers of the same name win).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Stop after this many measured requests (or at the end of the duration, if sooner).
    #[serde(default)]
    pub ops: Option<u64>,
    /// Seed for request choice and generated values.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Named value generators that templates use as `{{ name }}`.
    #[serde(default)]
    pub values: BTreeMap<String, ValueSpec>,
    /// Independent requests, picked by weight. Excludes `journeys`.
    #[serde(default)]
    pub requests: Vec<RequestSpec>,
    /// User journeys, picked by weight; each virtual user runs one journey's steps in order.
    /// Excludes `requests`.
    #[serde(default)]
    pub journeys: Vec<JourneySpec>,
    #[serde(default)]
    pub load: LoadSpec,
    /// Thresholds for this job; see [`super::Job::thresholds`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::gate::Threshold>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpVersion {
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    #[serde(rename = "2")]
    Http2,
}

/// One request, or one step of a journey. Path, URL, header values and `body_template` are
/// templates: `{{ name }}` is replaced by a value (or, in a journey, a capture).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// How results name it. Default: the method and the path as written, `GET /users`.
    #[serde(default)]
    pub name: Option<String>,
    /// Default GET.
    #[serde(default = "get")]
    pub method: String,
    /// Appended to the base URL's path. Excludes `url`.
    #[serde(default)]
    pub path: Option<String>,
    /// A full URL on the base URL's origin (scheme, host and port). Excludes `path`.
    #[serde(default)]
    #[serde(serialize_with = "serialize_redacted_option")]
    pub url: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, sent as written. Excludes `body_file` and `body_template`.
    #[serde(default)]
    pub body: Option<String>,
    /// A file sent as the body, read once before the run.
    #[serde(default)]
    pub body_file: Option<PathBuf>,
    /// The body as a template, rendered per request.
    #[serde(default)]
    pub body_template: Option<String>,
    /// Requests only: share of the picks. Default 1.
    #[serde(default)]
    pub weight: Option<u32>,
    /// What a response must show to count as successful. Without a status check, any
    /// status below 400 passes.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Journey steps only: values taken from the response, for later steps' templates.
    #[serde(default)]
    pub capture: BTreeMap<String, CaptureSpec>,
}

/// One check. Give one of `status`, `status_class`, `header`, `body_contains` or `json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// How results name a failure of it. Default: the check as words, `status 201`.
    #[serde(default)]
    pub name: Option<String>,
    /// The exact status.
    #[serde(default)]
    pub status: Option<u16>,
    /// The status class: `2xx`, `3xx`, `4xx` or `5xx`.
    #[serde(default)]
    pub status_class: Option<String>,
    /// A response header that must be present (with `equals` or `contains`: and match).
    #[serde(default)]
    pub header: Option<String>,
    /// Text the body must hold.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// A JSON pointer (`/order/id`) that must exist in the JSON body (with `equals`: and
    /// equal that value).
    #[serde(default)]
    pub json: Option<String>,
    /// With `header`: the whole value. With `json`: the value, as TOML writes it.
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// With `header`: text the value must hold.
    #[serde(default)]
    pub contains: Option<String>,
}

/// Where a capture comes from: a JSON pointer into the body, or a response header.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    #[serde(default)]
    pub json: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneySpec {
    pub name: String,
    /// Share of the virtual users that take this journey. Default 1.
    #[serde(default = "one")]
    pub weight: u32,
    /// Closed model: pause between one step's response and the next step. Default 0.
    #[serde(default)]
    pub think_time: Option<HumanDuration>,
    /// The steps, in order. Results name each `journey.step`.
    pub steps: Vec<RequestSpec>,
}

/// A value generator. Each request draws fresh values for the names its templates use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueSpec {
    /// A whole number from `min` to `max` inclusive, spread as `distribution` says.
    Int {
        min: i64,
        max: i64,
        #[serde(default)]
        distribution: Distribution,
    },
    /// `start`, `start + step`, ... across the whole job (every thread shares it).
    Sequence {
        #[serde(default)]
        start: i64,
        #[serde(default = "one_i64")]
        step: i64,
    },
    /// Random letters and digits (or the characters of `charset`), `length` of them.
    String {
        length: u32,
        #[serde(default)]
        charset: Option<String>,
    },
    /// A random (version 4) UUID, from the job's seed.
    Uuid,
    /// A column of a CSV file with a header row, read before the run.
    Csv {
        file: PathBuf,
        column: String,
        /// `sequential` (wrapping at the end) or `random`. Default sequential.
        #[serde(default)]
        order: CsvOrder,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvOrder {
    #[default]
    Sequential,
    Random,
}

impl RequestSpec {
    /// The target as written: the path, or the URL.
    pub fn target(&self) -> &str {
        self.path.as_deref().or(self.url.as_deref()).unwrap_or("")
    }

    /// The name this request's operations are recorded under.
    pub fn op_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!(
                "{} {}",
                self.method.to_ascii_uppercase(),
                redact_url(self.target())
            ),
        }
    }
}

impl JourneySpec {
    /// The name step `i` is recorded under: `journey.step`.
    pub fn step_name(&self, i: usize) -> String {
        let step = &self.steps[i];
        let own = step
            .name
            .clone()
            .unwrap_or_else(|| format!("step{}", i + 1));
        format!("{}.{own}", self.name)
    }
}

impl CheckSpec {
    /// How the check is named in results: its `name`, or the check in words.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let shown = |v: &toml::Value| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match (self, &self.equals, &self.contains) {
            (
                CheckSpec {
                    status: Some(s), ..
                },
                _,
                _,
            ) => format!("status {s}"),
            (
                CheckSpec {
                    status_class: Some(c),
                    ..
                },
                _,
                _,
            ) => format!("status {c}"),
            (
                CheckSpec {
                    header: Some(h), ..
                },
                Some(v),
                _,
            ) => format!("header {h} = {}", shown(v)),
            (
                CheckSpec {
                    header: Some(h), ..
                },
                _,
                Some(c),
            ) => format!("header {h} contains {c}"),
            (
                CheckSpec {
                    header: Some(h), ..
                },
                _,
                _,
            ) => format!("header {h}"),
            (
                CheckSpec {
                    body_contains: Some(b),
                    ..
                },
                _,
                _,
            ) => format!("body contains {b}"),
            (CheckSpec { json: Some(p), .. }, Some(v), _) => format!("json {p} = {}", shown(v)),
            (CheckSpec { json: Some(p), .. }, _, _) => format!("json {p}"),
            _ => "check".into(),
        }
    }

    fn kinds_given(&self) -> usize {
        [
            self.status.is_some(),
            self.status_class.is_some(),
            self.header.is_some(),
            self.body_contains.is_some(),
            self.json.is_some(),
        ]
        .iter()
        .filter(|&&given| given)
        .count()
    }
}

impl HttpJob {
    /// This shard's part of the job: its part of `connections`, `ops` and the load, with a
    /// seed of its own. Sequences are interleaved: shard I of N counts from `start + (I - 1)
    /// step` by `N step`, so no two shards draw one number and together they draw what one
    /// run would. CSV columns restart in every shard, so their values repeat across shards.
    pub fn shard(&self, shard: crate::load::Shard) -> Result<HttpJob, crate::load::ShardError> {
        let connections = shard.part_of_u32(self.connections, "connections")?;
        let ops = self.ops.map(|n| shard.part_of(n, "ops")).transpose()?;
        let mut values = self.values.clone();
        for (name, value) in &mut values {
            if let ValueSpec::Sequence { start, step } = value {
                (*start, *step) = interleave(*start, *step, shard).ok_or_else(|| {
                    crate::load::ShardError::Unsplittable(format!(
                        "values.{name}: interleaving the sequence over {} shards overflows a \
                         64-bit number; lower its start or step",
                        shard.count()
                    ))
                })?;
            }
        }
        Ok(HttpJob {
            values,
            connections,
            threads: self.threads.min(connections),
            ops,
            seed: Some(shard.seed(self.seed.unwrap_or(0))),
            load: self.load.shard(shard)?,
            ..self.clone()
        })
    }
}

/// Shard I of N's own start and step of a sequence; `None` when they overflow.
fn interleave(start: i64, step: i64, shard: crate::load::Shard) -> Option<(i64, i64)> {
    let before = i64::from(shard.index() - 1);
    let start = start.checked_add(before.checked_mul(step)?)?;
    Some((start, step.checked_mul(i64::from(shard.count()))?))
}

/// `2xx` → 2, for a status class as written; `None` when it is not one.
pub fn status_class(written: &str) -> Option<u16> {
    let lowered = written.to_ascii_lowercase();
    let digit = lowered.strip_suffix("xx")?.parse::<u16>().ok()?;
    (1..=5).contains(&digit).then_some(digit)
}

fn serialize_redacted<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

fn serialize_redacted_option<S: Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_some(&redact_url(url)),
        None => serializer.serialize_none(),
    }
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn one_i64() -> i64 {
    1
}

fn five() -> u32 {
    5
}

fn get() -> String {
    "GET".into()
}

fn five_seconds() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}

fn thirty_seconds() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

type Ensure<'a> = dyn FnMut(bool, FieldPath, String) + 'a;

/// Everything wrong with an HTTP job's values, by field.
pub(crate) fn check(job: &HttpJob, path: &FieldPath) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut ensure = |ok: bool, key: FieldPath, message: String| {
        if !ok {
            findings.push(Finding::at(key, message));
        }
    };
    check_base_url(job, path, &mut ensure);
    check_pool(job, path, &mut ensure);
    check_tls(job, path, &mut ensure);
    check_headers(&job.headers, &path.key("headers"), &mut ensure);
    ensure(
        job.ops != Some(0),
        path.key("ops"),
        "ops is 0, so nothing would be measured; set it to 1 or more, or remove it to run for \
         the duration"
            .into(),
    );
    for (name, value) in &job.values {
        check_value(value, &path.key("values").key(name), &mut ensure);
    }
    check_work(job, path, &mut ensure);
    let values: Vec<&str> = job.values.keys().map(String::as_str).collect();
    for (i, request) in job.requests.iter().enumerate() {
        let at = path.key("requests").index(i);
        check_request(request, &at, &values, &mut ensure);
        ensure(
            request.weight != Some(0),
            at.key("weight"),
            "weight is 0, so this request would never be sent; give it 1 or more, or remove it"
                .into(),
        );
        ensure(
            request.capture.is_empty(),
            at.key("capture"),
            "capture only applies to journey steps, whose later steps can use it; move this \
             request into a `[[jobs.journeys]]` step, or remove capture"
                .into(),
        );
    }
    for (j, journey) in job.journeys.iter().enumerate() {
        check_journey(job, journey, &path.key("journeys").index(j), &mut ensure);
    }
    findings.extend(load_model::check(&job.load, &path.key("load")));
    findings
}

fn check_base_url(job: &HttpJob, path: &FieldPath, ensure: &mut Ensure) {
    let parsed = job.base_url.parse::<http::Uri>();
    let fine = parsed.as_ref().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|h| !h.is_empty())
            && uri.query().is_none()
    });
    ensure(
        fine,
        path.key("base_url"),
        format!(
            "base_url `{}` is not an http:// or https:// URL with a host (and no query); write \
             it like `base_url = \"http://127.0.0.1:8080\"`",
            redact_url(&job.base_url)
        ),
    );
}

fn check_pool(job: &HttpJob, path: &FieldPath, ensure: &mut Ensure) {
    let connections = (job.connections, MAX_HTTP_CONNECTIONS);
    validate::check_pool(connections, job.threads, path, ensure);
    let streams = job.streams;
    ensure(
        (1..=MAX_STREAMS).contains(&streams),
        path.key("streams"),
        format!("streams is {streams}; use 1 to {MAX_STREAMS}"),
    );
    ensure(
        job.streams == 1 || job.http_version == HttpVersion::Http2,
        path.key("streams"),
        "streams needs HTTP/2, where one connection carries several requests at once; set \
         http_version = \"2\", or raise connections instead"
            .into(),
    );
    ensure(
        job.streams == 1 || !job.load.is_open(),
        path.key("streams"),
        "streams applies to the closed model; in the open model load.max_in_flight sets the \
         requests in flight"
            .into(),
    );
    ensure(
        job.keep_alive || job.http_version == HttpVersion::Http1,
        path.key("keep_alive"),
        "keep_alive = false needs HTTP/1.1: an HTTP/2 connection is made to be shared; remove \
         keep_alive, or set http_version = \"1.1\""
            .into(),
    );
    for (key, value) in [
        ("connect_timeout", job.connect_timeout),
        ("timeout", job.timeout),
    ] {
        ensure(
            !value.0.is_zero(),
            path.key(key),
            format!("{key} is 0, so every request would time out; set it above 0, like `\"5s\"`"),
        );
    }
    ensure(
        !job.follow_redirects || job.max_redirects >= 1,
        path.key("max_redirects"),
        "max_redirects is 0, so every redirect would fail; set it to 1 or more, or set \
         follow_redirects = false"
            .into(),
    );
}

fn check_tls(job: &HttpJob, path: &FieldPath, ensure: &mut Ensure) {
    let over_tls = job.base_url.starts_with("https://");
    ensure(
        over_tls || job.tls_ca.is_none(),
        path.key("tls_ca"),
        "tls_ca needs an https:// base_url; change the URL, or remove tls_ca".into(),
    );
    ensure(
        over_tls || !job.tls_insecure,
        path.key("tls_insecure"),
        "tls_insecure needs an https:// base_url; change the URL, or remove tls_insecure".into(),
    );
    ensure(
        !(job.tls_insecure && job.tls_ca.is_some()),
        path.key("tls_insecure"),
        "tls_insecure skips certificate checks, so tls_ca would never be used; keep one of them"
            .into(),
    );
}

fn check_headers(headers: &BTreeMap<String, String>, path: &FieldPath, ensure: &mut Ensure) {
    for name in headers.keys() {
        ensure(
            http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
            path.key(name),
            format!("`{name}` is not a valid header name; use letters, digits and `-`"),
        );
    }
}

fn check_value(value: &ValueSpec, path: &FieldPath, ensure: &mut Ensure) {
    match value {
        ValueSpec::Int { min, max, .. } => ensure(
            min <= max,
            path.key("max"),
            format!("max ({max}) is below min ({min}); make max at least {min}"),
        ),
        ValueSpec::Sequence { step, .. } => ensure(
            *step != 0,
            path.key("step"),
            "step is 0, so every value would be the same; use 1, or a fixed value".into(),
        ),
        ValueSpec::String { length, charset } => {
            ensure(
                (1..=1 << 20).contains(length),
                path.key("length"),
                format!("length is {length}; use 1 to 1048576"),
            );
            ensure(
                charset.as_ref().is_none_or(|c| !c.is_empty()),
                path.key("charset"),
                "charset is empty; list the characters to draw from, or remove it for letters \
                 and digits"
                    .into(),
            );
        }
        ValueSpec::Csv { column, .. } => ensure(
            !column.is_empty(),
            path.key("column"),
            "column is empty; name a column of the file's header row".into(),
        ),
        ValueSpec::Uuid => {}
    }
}

fn check_work(job: &HttpJob, path: &FieldPath, ensure: &mut Ensure) {
    let (requests, journeys) = (job.requests.len(), job.journeys.len());
    ensure(
        (requests == 0) != (journeys == 0),
        path.key(if requests > 0 { "journeys" } else { "requests" }),
        if requests > 0 {
            "give either requests or journeys, not both; make each request a one-step journey, \
             or drop the journeys"
                .into()
        } else {
            "the job sends nothing; add a request, like `requests = [{ path = \"/\" }]`, or a \
             `[[jobs.journeys]]` section"
                .into()
        },
    );
    let ops = requests + job.journeys.iter().map(|j| j.steps.len()).sum::<usize>();
    ensure(
        ops <= MAX_HTTP_OPS,
        path.clone(),
        format!(
            "the job has {ops} requests and steps; results keep at most {MAX_HTTP_OPS} per job, \
             so split it into several jobs"
        ),
    );
    let mut names: Vec<String> = Vec::new();
    let all_names = job
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| (path.key("requests").index(i), r.op_name()))
        .chain(job.journeys.iter().enumerate().flat_map(|(j, journey)| {
            (0..journey.steps.len()).map(move |i| {
                let at = path.key("journeys").index(j).key("steps").index(i);
                (at, journey.step_name(i))
            })
        }));
    for (at, name) in all_names {
        ensure(
            !names.contains(&name),
            at.key("name"),
            format!("two requests are both named `{name}`; give this one its own `name`"),
        );
        names.push(name);
    }
}

fn check_journey(job: &HttpJob, journey: &JourneySpec, path: &FieldPath, ensure: &mut Ensure) {
    ensure(
        !journey.name.trim().is_empty() && !journey.name.contains('.'),
        path.key("name"),
        "a journey needs a name without dots (results name its steps `journey.step`)".into(),
    );
    ensure(
        journey.weight > 0,
        path.key("weight"),
        "weight is 0, so no user would take this journey; give it 1 or more, or remove it".into(),
    );
    ensure(
        !journey.steps.is_empty(),
        path.key("steps"),
        "the journey has no steps; add one, like `steps = [{ path = \"/\" }]`".into(),
    );
    ensure(
        journey.think_time.is_none() || !job.load.is_open(),
        path.key("think_time"),
        "think_time between steps applies to the closed model; in the open model the schedule \
         spaces the requests, so remove it"
            .into(),
    );
    let mut known: Vec<&str> = job.values.keys().map(String::as_str).collect();
    for (i, step) in journey.steps.iter().enumerate() {
        let at = path.key("steps").index(i);
        check_request(step, &at, &known, ensure);
        ensure(
            step.weight.is_none(),
            at.key("weight"),
            "a journey's steps run in order, so weight does not apply; weigh the journey \
             instead"
                .into(),
        );
        for (name, capture) in &step.capture {
            check_capture(name, capture, &at.key("capture").key(name), &known, ensure);
        }
        known.extend(step.capture.keys().map(String::as_str));
    }
}

fn check_capture(
    name: &str,
    capture: &CaptureSpec,
    path: &FieldPath,
    values: &[&str],
    ensure: &mut Ensure,
) {
    ensure(
        capture.json.is_some() != capture.header.is_some(),
        path.clone(),
        "give a capture either `json` (a pointer like \"/id\") or `header` (a name), not both \
         nor neither"
            .into(),
    );
    if let Some(pointer) = &capture.json {
        check_pointer(pointer, &path.key("json"), ensure);
    }
    ensure(
        !values.contains(&name),
        path.clone(),
        format!(
            "`{name}` is already a value or an earlier capture; give this capture its own name"
        ),
    );
}

fn check_pointer(pointer: &str, path: &FieldPath, ensure: &mut Ensure) {
    ensure(
        pointer.is_empty() || pointer.starts_with('/'),
        path.clone(),
        format!(
            "`{pointer}` is not a JSON pointer; start it with `/`, like `/{}`",
            pointer.replace('.', "/")
        ),
    );
}

fn check_request(request: &RequestSpec, path: &FieldPath, values: &[&str], ensure: &mut Ensure) {
    ensure(
        http::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes()).is_ok(),
        path.key("method"),
        format!(
            "`{}` is not an HTTP method; use GET, POST, PUT, DELETE...",
            request.method
        ),
    );
    ensure(
        request.path.is_some() != request.url.is_some(),
        path.clone(),
        "give each request either `path` (after the base URL) or `url`, not both nor neither"
            .into(),
    );
    if let Some(target) = &request.path {
        ensure(
            target.starts_with('/') || target.starts_with("{{"),
            path.key("path"),
            format!("path `{target}` must start with `/`, like `/{target}`"),
        );
    }
    let bodies = [
        request.body.is_some(),
        request.body_file.is_some(),
        request.body_template.is_some(),
    ];
    ensure(
        bodies.iter().filter(|&&b| b).count() <= 1,
        path.key("body"),
        "give at most one of body, body_file and body_template".into(),
    );
    check_headers(&request.headers, &path.key("headers"), ensure);
    let templates = [
        ("path", request.path.as_deref()),
        ("url", request.url.as_deref()),
        ("body_template", request.body_template.as_deref()),
    ]
    .into_iter()
    .filter_map(|(key, text)| Some((path.key(key), text?)))
    .chain(
        request
            .headers
            .iter()
            .map(|(name, text)| (path.key("headers").key(name), text.as_str())),
    );
    for (at, text) in templates {
        if let Err(message) = check_template(text, values) {
            ensure(false, at, message);
        }
    }
    for (k, check) in request.checks.iter().enumerate() {
        check_check(check, &path.key("checks").index(k), ensure);
    }
}

/// A template's syntax, and that each name it uses is known.
pub(crate) fn check_template(text: &str, known: &[&str]) -> Result<(), String> {
    let env = minijinja::Environment::new();
    let template = env
        .template_from_str(text)
        .map_err(|e| format!("template `{text}` does not parse: {e}"))?;
    let used = template.undeclared_variables(false);
    let mut unknown: Vec<&String> = used
        .iter()
        .filter(|u| !known.contains(&u.as_str()))
        .collect();
    unknown.sort();
    let Some(first) = unknown.first() else {
        return Ok(());
    };
    let hint = match super::suggest_name(first, known) {
        Some(meant) => format!("; did you mean `{meant}`?"),
        None if known.is_empty() => {
            format!("; define it, like `values.{first} = {{ kind = \"int\", min = 1, max = 100 }}`")
        }
        None => format!("; known names: {}", known.join(", ")),
    };
    Err(format!(
        "template uses `{first}`, which is no value or earlier capture{hint}"
    ))
}

fn check_check(check: &CheckSpec, path: &FieldPath, ensure: &mut Ensure) {
    ensure(
        check.kinds_given() == 1,
        path.clone(),
        "give each check one of status, status_class, header, body_contains or json".into(),
    );
    if let Some(class) = &check.status_class {
        ensure(
            status_class(class).is_some(),
            path.key("status_class"),
            format!("status_class `{class}` is not a class; use 2xx, 3xx, 4xx or 5xx"),
        );
    }
    if let Some(status) = check.status {
        ensure(
            (100..=599).contains(&status),
            path.key("status"),
            format!("status {status} is not an HTTP status; use 100 to 599"),
        );
    }
    ensure(
        check.equals.is_none() || check.header.is_some() || check.json.is_some(),
        path.key("equals"),
        "equals applies to a header or json check".into(),
    );
    ensure(
        check.contains.is_none() || check.header.is_some(),
        path.key("contains"),
        "contains applies to a header check; for the body use body_contains".into(),
    );
    if let Some(name) = &check.header {
        ensure(
            http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
            path.key("header"),
            format!("`{name}` is not a valid header name"),
        );
    }
    if let Some(pointer) = &check.json {
        check_pointer(pointer, &path.key("json"), ensure);
    }
}
