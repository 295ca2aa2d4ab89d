//! What each request of an HTTP job sends and expects: the weighted requests or journeys,
//! their templates compiled once, bodies read from files, the checks and the captures.
//!
//! Built once per job, before any load, and shared read-only by every lane. Rendering a
//! request draws the values its templates use (only those) with the lane's RNG and fills in
//! the lane's captures; text without `{{` is sent as written, with no template pass.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Uri};
use minijinja::{Environment, Value};
use rand::RngExt as _;
use rand::rngs::SmallRng;

use super::values::Generator;
use crate::measure::{ErrorKind, OpId};
use crate::workload::{
    CaptureSpec, CheckSpec, HttpJob, JourneySpec, RequestSpec, redact_url, status_class,
};

/// The base URL taken apart: where every request goes.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    pub scheme: Scheme,
    pub authority: Authority,
    /// The base URL's host, for TLS server names.
    pub host: String,
    pub port: u16,
    /// The base URL's path without a trailing `/`, put before every request path.
    prefix: String,
    /// From a `user:password@` in the base URL: sent as basic authentication.
    authorization: Option<HeaderValue>,
}

impl Origin {
    pub fn parse(base_url: &str) -> Result<Origin, String> {
        let shown = redact_url(base_url);
        let uri: Uri = base_url
            .parse()
            .map_err(|e| format!("base_url `{shown}` is not a URL: {e}"))?;
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        let authority = uri
            .authority()
            .ok_or_else(|| format!("base_url `{shown}` has no host"))?;
        let (userinfo, hostport) = match authority.as_str().rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority.as_str()),
        };
        let authority: Authority = hostport
            .parse()
            .map_err(|e| format!("base_url `{shown}`: {e}"))?;
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let authorization = userinfo.map(|info| {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(info);
            let mut value = HeaderValue::try_from(format!("Basic {encoded}"))
                .expect("base64 is a valid header value");
            value.set_sensitive(true);
            value
        });
        Ok(Origin {
            host: authority.host().trim_matches(['[', ']']).to_owned(),
            port: authority.port_u16().unwrap_or(default_port),
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            authorization,
        })
    }

    /// Whether `uri` is on this origin (scheme, host and port).
    pub fn owns(&self, uri: &Uri) -> bool {
        let default_port = if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        };
        uri.scheme() == Some(&self.scheme)
            && uri.host() == Some(self.authority.host())
            && uri.port_u16().unwrap_or(default_port) == self.port
    }

    /// The origin as a URL: `http://127.0.0.1:8080`, without any user or password.
    fn shown(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// `url` as a request's target, when it is a whole URL on this origin.
    fn target(&self, url: &str) -> Result<Uri, Unsendable> {
        let shown = redact_url(url);
        let uri: Uri = url
            .parse()
            .map_err(|e| Unsendable::Template(format!("url `{shown}` is not a URL: {e}")))?;
        if uri.scheme().is_none() || uri.host().is_none() {
            return Err(Unsendable::Template(format!(
                "url `{shown}` is not a whole URL with a scheme and a host; for a path after \
                 base_url write `path` instead"
            )));
        }
        if !self.owns(&uri) {
            return Err(Unsendable::OffOrigin(format!(
                "url `{shown}` is on another origin than the job's: a job sends to one origin, \
                 its base_url's ({}); use a URL on it, or give the other origin a job of its own",
                self.shown()
            )));
        }
        Ok(uri)
    }

    fn uri(&self, path_and_query: &str) -> Result<Uri, String> {
        let pq: PathAndQuery = format!("{}{path_and_query}", self.prefix)
            .parse()
            .map_err(|e| format!("path `{path_and_query}` is not usable: {e}"))?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|e| e.to_string())
    }
}

/// Why a request could not be made ready to send. Each is counted under its own kind, so a
/// URL on the wrong origin is not taken for a template that failed.
#[derive(Debug)]
pub(super) enum Unsendable {
    /// A template did not render, or rendered to something HTTP cannot carry.
    Template(String),
    /// A templated `url` rendered to a URL on another origin than the job's.
    OffOrigin(String),
}

impl Unsendable {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Unsendable::Template(_) => ErrorKind::Check("template rendering"),
            Unsendable::OffOrigin(_) => ErrorKind::Check("url off the base URL's origin"),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Unsendable::Template(message) | Unsendable::OffOrigin(message) => message,
        }
    }
}

impl From<String> for Unsendable {
    fn from(message: String) -> Self {
        Unsendable::Template(message)
    }
}

/// Why a job's requests cannot be planned: what to fix, and the key at fault (a path inside
/// the job, `requests[1].url`) when the message is about one.
#[derive(Debug)]
pub(super) struct Refusal {
    pub key: Option<String>,
    pub message: String,
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Refusal { key: None, message }
    }
}

/// Text sent as written, or a template rendered per request (by its name in the plan's
/// environment).
#[derive(Debug)]
enum Text {
    Fixed(String),
    Template(&'static str),
}

#[derive(Debug)]
enum Body {
    Fixed(Bytes),
    Template(&'static str),
}

/// One kind of request: a job's request or one step of a journey.
#[derive(Debug)]
pub(super) struct Op {
    method: Method,
    target: Text,
    /// `url` rather than `path`: the rendered text is a whole URL.
    absolute: bool,
    headers: Vec<(HeaderName, Text)>,
    body: Body,
    pub checks: Vec<Check>,
    /// A status check is among the checks; without one, any status below 400 passes.
    pub has_status_check: bool,
    /// Each capture's name, where it comes from, and the label its failure is counted under.
    pub captures: Vec<(String, Capture, &'static str)>,
    /// Whether a check or a capture reads the body (it is then kept, not only drained).
    pub reads_body: bool,
    /// The generators its templates use, by index.
    uses: Vec<usize>,
}

#[derive(Debug)]
pub(super) struct Check {
    /// How results name a failure of it.
    pub label: &'static str,
    pub rule: Rule,
}

#[derive(Debug)]
pub(super) enum Rule {
    Status(u16),
    /// The first digit: 2 for `2xx`.
    Class(u16),
    Header {
        name: HeaderName,
        equals: Option<String>,
        contains: Option<String>,
    },
    Body(String),
    Json {
        pointer: String,
        equals: Option<serde_json::Value>,
    },
}

#[derive(Debug)]
pub(super) enum Capture {
    Json(String),
    Header(HeaderName),
}

/// How the next request is chosen.
#[derive(Debug)]
pub(super) enum Work {
    /// Independent requests by weight; op `i` is request `i`.
    Requests { cumulative: Vec<u64> },
    /// Journeys by weight; each runs its ops in order.
    Journeys {
        journeys: Vec<Journey>,
        cumulative: Vec<u64>,
    },
}

#[derive(Debug)]
pub(super) struct Journey {
    pub first_op: usize,
    pub steps: usize,
    /// Closed model: the pause before each step after the first.
    pub think: Duration,
}

/// A request ready to send, before it is shaped for HTTP/1.1 or HTTP/2.
pub(super) struct Rendered {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug)]
pub(super) struct Plan {
    pub ops: Vec<Op>,
    pub names: Vec<&'static str>,
    pub work: Work,
    pub generators: Vec<Generator>,
    pub origin: Origin,
    env: Environment<'static>,
    pub seed: u64,
}

impl Plan {
    /// Compiles the job's requests or journeys. Reads body files and CSV values; the
    /// message says what to fix.
    pub fn new(job: &HttpJob) -> Result<Plan, Refusal> {
        let seed = job.seed.unwrap_or(0);
        let origin = Origin::parse(&job.base_url)?;
        let generators = job
            .values
            .iter()
            .map(|(name, spec)| Generator::new(name, spec, seed))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = Builder {
            job,
            origin: &origin,
            env: Environment::new(),
            generators: &generators,
            ops: Vec::new(),
            names: Vec::new(),
        };
        let work = if job.journeys.is_empty() {
            for (i, request) in job.requests.iter().enumerate() {
                builder.add(request, request.op_name(), &format!("requests[{i}]"))?;
            }
            let weights = job.requests.iter().map(|r| r.weight.unwrap_or(1));
            Work::Requests {
                cumulative: running_sums(weights),
            }
        } else {
            let journeys = job
                .journeys
                .iter()
                .enumerate()
                .map(|(j, journey)| builder.add_journey(journey, j))
                .collect::<Result<Vec<_>, _>>()?;
            Work::Journeys {
                journeys,
                cumulative: running_sums(job.journeys.iter().map(|j| j.weight)),
            }
        };
        let Builder {
            env, ops, names, ..
        } = builder;
        Ok(Plan {
            ops,
            names,
            work,
            generators,
            origin,
            env,
            seed,
        })
    }

    /// The request `op` sends now, with fresh values for the names it uses and `captures`
    /// for the rest.
    pub fn render(
        &self,
        op: OpId,
        rng: &mut SmallRng,
        captures: &BTreeMap<String, Value>,
    ) -> Result<Rendered, Unsendable> {
        let op = &self.ops[op.0 as usize];
        let mut context: BTreeMap<&str, Value> = captures
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        for &g in &op.uses {
            let generator = &self.generators[g];
            context.insert(&generator.name, generator.draw(rng));
        }
        let target = self.text(&op.target, &context)?;
        let uri = if op.absolute {
            self.origin.target(&target)?
        } else {
            self.origin.uri(&target)?
        };
        let mut headers = HeaderMap::with_capacity(op.headers.len() + 1);
        if let Some(auth) = &self.origin.authorization {
            headers.insert(http::header::AUTHORIZATION, auth.clone());
        }
        for (name, value) in &op.headers {
            let value = self.text(value, &context)?;
            let value = HeaderValue::try_from(value)
                .map_err(|_| format!("header {name} renders to a value HTTP cannot carry"))?;
            headers.insert(name.clone(), value);
        }
        let body = match &op.body {
            Body::Fixed(bytes) => bytes.clone(),
            Body::Template(name) => Bytes::from(self.render_template(name, &context)?),
        };
        Ok(Rendered {
            method: op.method.clone(),
            uri,
            headers,
            body,
        })
    }

    fn text(&self, text: &Text, context: &BTreeMap<&str, Value>) -> Result<String, String> {
        match text {
            Text::Fixed(s) => Ok(s.clone()),
            Text::Template(name) => self.render_template(name, context),
        }
    }

    fn render_template(
        &self,
        name: &str,
        context: &BTreeMap<&str, Value>,
    ) -> Result<String, String> {
        let template = self.env.get_template(name).map_err(|e| e.to_string())?;
        template
            .render(context)
            .map_err(|e| format!("rendering {name}: {e}"))
    }

    /// The op a new pick of the job's requests (or first step of a journey) starts with.
    pub fn pick(&self, rng: &mut SmallRng) -> (usize, OpId) {
        let (cumulative, first) = match &self.work {
            Work::Requests { cumulative } => (cumulative, None),
            Work::Journeys {
                journeys,
                cumulative,
            } => (cumulative, Some(journeys)),
        };
        let total = *cumulative.last().unwrap_or(&1);
        let draw = rng.random_range(0..total);
        let index = cumulative.partition_point(|&sum| sum <= draw);
        match first {
            None => (index, OpId(index as u8)),
            Some(journeys) => (index, OpId(journeys[index].first_op as u8)),
        }
    }

    pub fn journey(&self, index: usize) -> Option<&Journey> {
        match &self.work {
            Work::Journeys { journeys, .. } => journeys.get(index),
            Work::Requests { .. } => None,
        }
    }
}

fn running_sums(weights: impl Iterator<Item = u32>) -> Vec<u64> {
    weights
        .scan(0u64, |sum, w| {
            *sum += u64::from(w);
            Some(*sum)
        })
        .collect()
}

struct Builder<'a> {
    job: &'a HttpJob,
    origin: &'a Origin,
    env: Environment<'static>,
    generators: &'a [Generator],
    ops: Vec<Op>,
    names: Vec<&'static str>,
}

impl Builder<'_> {
    fn add_journey(&mut self, journey: &JourneySpec, j: usize) -> Result<Journey, Refusal> {
        let first_op = self.ops.len();
        for (i, step) in journey.steps.iter().enumerate() {
            let at = format!("journeys[{j}].steps[{i}]");
            self.add(step, journey.step_name(i), &at)?;
        }
        Ok(Journey {
            first_op,
            steps: journey.steps.len(),
            think: journey.think_time.map_or(Duration::ZERO, |t| t.0),
        })
    }

    fn add(&mut self, request: &RequestSpec, name: String, at: &str) -> Result<(), Refusal> {
        let mut uses = Vec::new();
        let method = Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("{at}: `{}` is not an HTTP method", request.method))?;
        let target = self.text(request.target(), &format!("{at}.target"), &mut uses)?;
        // A fixed URL is known now; a templated one only when it renders, and is counted then.
        if let (Some(_), Text::Fixed(url)) = (&request.url, &target) {
            self.origin.target(url).map_err(|refused| Refusal {
                key: Some(format!("{at}.url")),
                message: refused.message().to_owned(),
            })?;
        }
        let mut headers = Vec::new();
        let merged = self.job.headers.iter().filter(|(k, _)| {
            !request
                .headers
                .keys()
                .any(|own| own.eq_ignore_ascii_case(k))
        });
        for (key, value) in merged.chain(&request.headers) {
            let header = HeaderName::from_bytes(key.as_bytes())
                .map_err(|_| format!("{at}: `{key}` is not a header name"))?;
            let text = self.text(value, &format!("{at}.headers.{key}"), &mut uses)?;
            if let Text::Fixed(v) = &text {
                HeaderValue::try_from(v.as_str())
                    .map_err(|_| format!("{at}: header {key} has a value HTTP cannot carry"))?;
            }
            headers.push((header, text));
        }
        let body = match (&request.body, &request.body_file, &request.body_template) {
            (Some(text), _, _) => Body::Fixed(Bytes::from(text.clone())),
            (_, Some(file), _) => Body::Fixed(Bytes::from(std::fs::read(file).map_err(|e| {
                format!("{at}: body_file `{}` cannot be read: {e}", file.display())
            })?)),
            (_, _, Some(template)) => {
                let name = self.template(&format!("{at}.body"), template, &mut uses)?;
                Body::Template(name)
            }
            _ => Body::Fixed(Bytes::new()),
        };
        let checks: Vec<Check> = request.checks.iter().map(check).collect();
        let captures: Vec<(String, Capture, &'static str)> = request
            .capture
            .iter()
            .map(|(name, spec)| {
                // Labels live for the whole run; a handful per job.
                let label: &'static str = Box::leak(format!("capture {name}").into_boxed_str());
                (name.clone(), capture(spec), label)
            })
            .collect();
        let reads_body = checks
            .iter()
            .any(|c| matches!(c.rule, Rule::Body(_) | Rule::Json { .. }))
            || captures
                .iter()
                .any(|(_, c, _)| matches!(c, Capture::Json(_)));
        uses.sort_unstable();
        uses.dedup();
        self.ops.push(Op {
            method,
            target,
            absolute: request.url.is_some(),
            headers,
            body,
            has_status_check: checks
                .iter()
                .any(|c| matches!(c.rule, Rule::Status(_) | Rule::Class(_))),
            checks,
            captures,
            reads_body,
            uses,
        });
        // Names live for the whole run; a handful per job.
        self.names.push(Box::leak(name.into_boxed_str()));
        Ok(())
    }

    fn text(&mut self, text: &str, name: &str, uses: &mut Vec<usize>) -> Result<Text, String> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(Text::Fixed(text.to_owned()));
        }
        Ok(Text::Template(self.template(name, text, uses)?))
    }

    fn template(
        &mut self,
        name: &str,
        source: &str,
        uses: &mut Vec<usize>,
    ) -> Result<&'static str, String> {
        // Templates live for the whole run, like the environment that holds them.
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let source: &'static str = Box::leak(source.to_owned().into_boxed_str());
        self.env
            .add_template(name, source)
            .map_err(|e| format!("template `{source}` does not parse: {e}"))?;
        let template = self.env.get_template(name).map_err(|e| e.to_string())?;
        for used in template.undeclared_variables(false) {
            if let Some(g) = self.generators.iter().position(|g| g.name == used) {
                uses.push(g);
            }
        }
        Ok(name)
    }
}

fn check(spec: &CheckSpec) -> Check {
    let label: &'static str = Box::leak(spec.label().into_boxed_str());
    let rule = if let Some(status) = spec.status {
        Rule::Status(status)
    } else if let Some(class) = &spec.status_class {
        Rule::Class(status_class(class).unwrap_or(2))
    } else if let Some(name) = &spec.header {
        let text = |v: &toml::Value| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Rule::Header {
            name: HeaderName::from_bytes(name.as_bytes())
                .unwrap_or(HeaderName::from_static("x-invalid")),
            equals: spec.equals.as_ref().map(text),
            contains: spec.contains.clone(),
        }
    } else if let Some(text) = &spec.body_contains {
        Rule::Body(text.clone())
    } else {
        Rule::Json {
            pointer: spec.json.clone().unwrap_or_default(),
            equals: spec
                .equals
                .as_ref()
                .and_then(|v| serde_json::to_value(v).ok()),
        }
    };
    Check { label, rule }
}

fn capture(spec: &CaptureSpec) -> Capture {
    match (&spec.json, &spec.header) {
        (Some(pointer), _) => Capture::Json(pointer.clone()),
        (None, Some(name)) => Capture::Header(
            HeaderName::from_bytes(name.as_bytes()).unwrap_or(HeaderName::from_static("x-invalid")),
        ),
        (None, None) => Capture::Json(String::new()),
    }
}
