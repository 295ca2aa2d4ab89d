//! The HTTP driver against in-process hyper servers on 127.0.0.1 that the tests start
//! themselves (tests/support/http_server.rs): counts, weights, templates, pooling, errors by
//! kind, the open model's latency and drops, redirects, journeys and TLS.

#[path = "support/http_server.rs"]
mod http_server;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use http_server::{ServerConfig, TestServer};
use plimsoll::results::{JobResults, OpResults, RunResults};
use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::load_str;

/// Runs a one-job workload in-process, as `plimsoll run` does. `job` is the job's keys after
/// `kind`, `name` and `base_url`.
fn run(duration: &str, base_url: &str, job: &str) -> RunResults {
    let text = format!(
        "name = \"t\"\nduration = \"{duration}\"\n[monitor]\nenabled = false\n\n[[jobs]]\n\
         kind = \"http\"\nname = \"h\"\nbase_url = \"{base_url}\"\n{job}"
    );
    let workload = load_str("test.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    runner::run(
        &workload,
        None,
        &AtomicBool::new(false),
        RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("setup failed: {e}"))
}

fn job(results: &RunResults) -> &JobResults {
    &results.jobs[0]
}

fn op<'r>(results: &'r RunResults, name: &str) -> &'r OpResults {
    let ops = &job(results).operations;
    ops.iter().find(|o| o.op == name).unwrap_or_else(|| {
        panic!(
            "no op `{name}` in {:?}",
            ops.iter().map(|o| &o.op).collect::<Vec<_>>()
        )
    })
}

fn count(results: &RunResults, name: &str) -> u64 {
    let ops = &job(results).operations;
    ops.iter().find(|o| o.op == name).map_or(0, |o| o.count)
}

fn errors(results: &RunResults, kind: &str) -> u64 {
    let ops = job(results).operations.iter();
    let all = ops.flat_map(|o| o.errors.iter());
    all.filter(|e| e.kind == kind).map(|e| e.count).sum()
}

fn counter(results: &RunResults, name: &str) -> u64 {
    job(results).counters.get(name).copied().unwrap_or(0)
}

fn target<'r>(results: &'r RunResults, key: &str) -> &'r serde_json::Value {
    &job(results).target[key]
}

#[test]
fn a_count_stop_sends_exactly_n_requests() {
    let server = TestServer::start(ServerConfig::default());
    for connections in [1, 4] {
        let before = server.stats.requests();
        let results = run(
            "30s",
            &server.url(),
            &format!("connections = {connections}\nops = 500\nrequests = [{{ path = \"/\" }}]\n"),
        );
        let seen = server.stats.requests() - before;
        assert_eq!(
            seen, 500,
            "server saw {seen} requests over {connections} connections"
        );
        assert_eq!(count(&results, "GET /"), 500);
        assert_eq!(job(&results).total_errors(), 0);
    }
}

#[test]
fn weights_come_out_within_tolerance() {
    let server = TestServer::start(ServerConfig::default());
    let results = run(
        "30s",
        &server.url(),
        "connections = 2\nops = 4000\nseed = 7\n\
         [[jobs.requests]]\nname = \"heavy\"\npath = \"/a\"\nweight = 3\n\
         [[jobs.requests]]\nname = \"light\"\npath = \"/b\"\nweight = 1\n",
    );
    let (a, b) = (server.stats.path_count("/a"), server.stats.path_count("/b"));
    assert_eq!(a + b, 4000);
    // 3:1 of 4000 is 3000 expected; a binomial's standard deviation here is about 27.
    assert!((2850..=3150).contains(&a), "heavy got {a} of 4000");
    assert_eq!(count(&results, "heavy"), a);
    assert_eq!(count(&results, "light"), b);
}

#[test]
fn the_server_sees_the_templated_headers_and_bodies() {
    let server = TestServer::start(ServerConfig {
        record: 1000,
        ..ServerConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cities.csv");
    std::fs::write(&csv, "city,country\nOslo,NO\nLima,PE\nPune,IN\n").unwrap();
    let body_file = dir.path().join("body.bin");
    std::fs::write(&body_file, b"file body\n").unwrap();
    let job = format!(
        "ops = 300\nseed = 3\nheaders = {{ x-run = \"plimsoll-test\" }}\n\
         [jobs.values]\nid = {{ kind = \"int\", min = 10, max = 20 }}\n\
         n = {{ kind = \"sequence\", start = 1000 }}\n\
         token = {{ kind = \"string\", length = 12 }}\nuid = {{ kind = \"uuid\" }}\n\
         city = {{ kind = \"csv\", file = \"{}\", column = \"city\" }}\n\
         [[jobs.requests]]\nname = \"put\"\nmethod = \"PUT\"\npath = \"/items/{{{{ id }}}}\"\n\
         headers = {{ x-token = \"{{{{ token }}}}\", x-seq = \"{{{{ n }}}}\" }}\n\
         body_template = '{{\"id\": {{{{ id }}}}, \"city\": \"{{{{ city }}}}\", \
         \"uid\": \"{{{{ uid }}}}\"}}'\n\
         [[jobs.requests]]\nname = \"file\"\nmethod = \"POST\"\npath = \"/upload\"\n\
         body_file = \"{}\"\n\
         [[jobs.requests]]\nname = \"plain\"\nmethod = \"POST\"\npath = \"/plain\"\n\
         body = \"as written\"\n",
        csv.display(),
        body_file.display()
    );
    let results = run("30s", &server.url(), &job);
    assert_eq!(job_errors(&results), 0);
    let seen = server.stats.seen();
    assert_eq!(seen.len(), 300);
    let mut seqs = Vec::new();
    let mut cities = std::collections::BTreeSet::new();
    for request in &seen {
        assert_eq!(request.header("x-run"), Some("plimsoll-test"));
        match request.method.as_str() {
            "PUT" => {
                let id: i64 = request
                    .path
                    .strip_prefix("/items/")
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((10..=20).contains(&id), "id {id}");
                let token = request.header("x-token").unwrap();
                assert_eq!(token.len(), 12);
                assert!(token.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
                seqs.push(request.header("x-seq").unwrap().parse::<i64>().unwrap());
                let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
                // The path and the body were rendered from one draw of `id`.
                assert_eq!(body["id"].as_i64(), Some(id));
                cities.insert(body["city"].as_str().unwrap().to_owned());
                let uid = body["uid"].as_str().unwrap();
                assert_eq!(uid.len(), 36);
                assert_eq!(&uid[14..15], "4", "a version 4 UUID: {uid}");
            }
            "POST" if request.path == "/upload" => assert_eq!(request.body, b"file body\n"),
            "POST" => assert_eq!(request.body, b"as written"),
            other => panic!("unexpected method {other}"),
        }
    }
    // One job-wide sequence: every value once, from the start.
    seqs.sort();
    let expected: Vec<i64> = (1000..1000 + seqs.len() as i64).collect();
    assert_eq!(seqs, expected);
    assert_eq!(cities.len(), 3, "{cities:?}");
}

fn job_errors(results: &RunResults) -> u64 {
    job(results).total_errors()
}

#[test]
fn failed_checks_are_counted_per_check_and_timed_apart() {
    let server = TestServer::start(ServerConfig::default());
    let results = run(
        "30s",
        &server.url(),
        "ops = 400\nseed = 1\n\
         [[jobs.requests]]\nname = \"good\"\npath = \"/\"\n\
         checks = [{ status = 200 }, { header = \"content-type\", contains = \"json\" }, \
         { body_contains = \"ok\" }, { json = \"/ok\", equals = true }]\n\
         [[jobs.requests]]\nname = \"wrong-body\"\npath = \"/\"\n\
         checks = [{ body_contains = \"nope\" }]\n\
         [[jobs.requests]]\nname = \"missing\"\npath = \"/status/503\"\n\
         [[jobs.requests]]\nname = \"json-field\"\npath = \"/\"\n\
         checks = [{ json = \"/state\", name = \"has state\" }]\n",
    );
    let good = op(&results, "good");
    assert!(good.count > 50);
    assert_eq!(good.error_count, 0);
    assert!(good.failed_latency_ns.is_none());
    let wrong = op(&results, "wrong-body");
    assert_eq!(wrong.count, 0);
    assert_eq!(wrong.errors[0].kind, "check failed: body contains nope");
    let failed = wrong
        .failed_latency_histogram
        .as_ref()
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(failed.count(), wrong.error_count);
    assert!(wrong.failed_latency_ns.unwrap().p50.unwrap() > 0);
    let missing = op(&results, "missing");
    assert_eq!(missing.errors[0].kind, "status 503");
    assert_eq!(
        op(&results, "json-field").errors[0].kind,
        "check failed: has state"
    );
    assert_eq!(server.stats.requests(), 400);
    let failed = errors(&results, "status 503")
        + errors(&results, "check failed: body contains nope")
        + errors(&results, "check failed: has state");
    assert_eq!(good.count + failed, 400);
}

#[test]
fn a_templated_url_that_renders_on_another_origin_is_counted_as_that() {
    let server = TestServer::start(ServerConfig::default());
    let port = server.addr.port();
    // Half the draws name 127.0.0.2, another origin than the base URL's 127.0.0.1.
    let results = run(
        "30s",
        &server.url(),
        &format!(
            "ops = 200\nseed = 1\nvalues = {{ n = {{ kind = \"int\", min = 1, max = 2 }} }}\n\
             requests = [{{ name = \"either\", url = \"http://127.0.0.{{{{ n }}}}:{port}/\" }}]\n"
        ),
    );
    let sent = op(&results, "either").count;
    let off = errors(&results, "check failed: url off the base URL's origin");
    assert_eq!(errors(&results, "check failed: template rendering"), 0);
    assert!(sent > 40 && off > 40, "sent {sent}, off the origin {off}");
    assert_eq!(sent + off, 200);
    assert_eq!(
        server.stats.requests(),
        sent,
        "nothing went to the other origin"
    );
}

#[test]
fn the_open_model_keeps_its_rate_and_drops_beyond_the_in_flight_limit() {
    // 2 workers of 100 ms serve 20 requests per second at most; offered 50 per second with
    // 2 requests in flight at most, the rest must be dropped, not queued.
    let server = TestServer::start(ServerConfig {
        workers: Some(2),
        service_time: Duration::from_millis(100),
        ..ServerConfig::default()
    });
    let results = run(
        "4s",
        &server.url(),
        "connections = 2\ntimeout = \"5s\"\nrequests = [{ path = \"/\" }]\n\
         load = { model = \"open\", rate = \"50\", max_in_flight = 2 }\n",
    );
    let load = job(&results).load.as_ref().unwrap();
    let done = count(&results, "GET /");
    assert!(
        (70..=82).contains(&done),
        "{done} requests served at 20/s for 4 s"
    );
    assert!(load.dropped_ops >= 100, "{load:?}");
    assert_eq!(
        load.sent_ops + load.dropped_ops + load.unsent_ops.unwrap_or(0),
        200
    );
    let latency = op(&results, "GET /").latency_ns;
    // Nothing queued: latency stays near the service time.
    assert!(latency.p99.unwrap() < 250_000_000, "{latency:?}");

    let light = run(
        "3s",
        &server.url(),
        "connections = 2\nrequests = [{ path = \"/\" }]\n\
         load = { model = \"open\", rate = \"10\" }\n",
    );
    let load = job(&light).load.as_ref().unwrap();
    assert_eq!(load.dropped_ops, 0, "{load:?}");
    assert!((29..=31).contains(&count(&light, "GET /")));
    assert_eq!(load.sustained, Some(true));
}

#[test]
fn the_closed_model_with_think_time_paces_each_connection() {
    let server = TestServer::start(ServerConfig::default());
    let results = run(
        "2s",
        &server.url(),
        "connections = 2\nrequests = [{ path = \"/\" }]\n\
         load = { think_time = \"100ms\" }\n",
    );
    // 2 connections, one request per 100 ms each, over 2 s.
    let done = count(&results, "GET /");
    assert!((36..=42).contains(&done), "{done} requests");
    assert_eq!(target(&results, "connection_mode"), "keep-alive pool");
}

#[test]
fn keep_alive_off_opens_one_connection_per_request() {
    let server = TestServer::start(ServerConfig::default());
    let results = run(
        "30s",
        &server.url(),
        "connections = 3\nkeep_alive = false\nops = 200\nrequests = [{ path = \"/\" }]\n",
    );
    assert_eq!(count(&results, "GET /"), 200);
    // The run's own probe before the load opens one more.
    assert_eq!(server.stats.connections(), 201);
    assert!(
        server.stats.most_open() <= 3 + 1,
        "{}",
        server.stats.most_open()
    );
    assert_eq!(counter(&results, "connections_opened"), 200);
    assert_eq!(
        target(&results, "connection_mode"),
        "new connection per request"
    );
}

#[test]
fn keep_alive_on_never_opens_more_than_the_pool() {
    let server = TestServer::start(ServerConfig {
        workers: Some(8),
        service_time: Duration::from_millis(2),
        ..ServerConfig::default()
    });
    let results = run(
        "30s",
        &server.url(),
        "connections = 4\nthreads = 2\nops = 2000\nrequests = [{ path = \"/\" }]\n",
    );
    assert_eq!(count(&results, "GET /"), 2000);
    assert_eq!(server.stats.connections(), 4 + 1, "4 pooled and the probe");
    assert_eq!(counter(&results, "connections_opened"), 4);
    assert_eq!(target(&results, "connection_mode"), "keep-alive pool");
    assert_eq!(target(&results, "pool_size"), 4);

    // The open model's lanes share the pool: up to 20 in flight over 3 connections. At 200/s
    // and 20 ms a request, 4 would be in flight, so the pool is always short and all 3 of its
    // connections open however quick the machine is; capacity is 150/s.
    let slow = TestServer::start(ServerConfig {
        workers: Some(8),
        service_time: Duration::from_millis(20),
        ..ServerConfig::default()
    });
    let open = run(
        "2s",
        &slow.url(),
        "connections = 3\nrequests = [{ path = \"/\" }]\n\
         load = { model = \"open\", rate = \"200\", max_in_flight = 20 }\n",
    );
    let done = count(&open, "GET /");
    assert!(done > 200, "{done} requests");
    assert_eq!(slow.stats.connections(), 3 + 1, "3 pooled and the probe");
    assert!(
        slow.stats.most_open() <= 3 + 1,
        "{}",
        slow.stats.most_open()
    );
}

#[test]
fn resets_are_errors_of_their_own_kind_and_split_completed_from_successful() {
    let server = TestServer::start(ServerConfig {
        reset_every: Some(20),
        ..ServerConfig::default()
    });
    let results = run(
        "30s",
        &server.url(),
        "connections = 2\nops = 1000\nrequests = [{ path = \"/\" }]\n",
    );
    let resets = server.stats.resets();
    assert_eq!(resets, 50, "every 20th of 1000 requests");
    assert_eq!(errors(&results, "reset"), resets);
    let get = op(&results, "GET /");
    assert_eq!(get.count + get.error_count, 1000);
    assert_eq!(get.count, 950);
    let completed = get.completed_ops_per_s.unwrap();
    let ratio = get.ops_per_s / completed;
    assert!(
        (ratio - 0.95).abs() < 1e-9,
        "successful/completed = {ratio}"
    );
    // Each reset cost its connection; the pool opened a new one for the next request.
    assert!(counter(&results, "connections_opened") >= 50);
}

#[test]
fn a_stall_shows_in_latency_but_not_in_service_time() {
    // 200 per second for 6 s; at request 400 (about 2 s in) the server stalls for 1 s.
    let server = TestServer::start(ServerConfig {
        stall: Some((400, Duration::from_secs(1))),
        ..ServerConfig::default()
    });
    let results = run(
        "6s",
        &server.url(),
        "connections = 10\ntimeout = \"5s\"\nrequests = [{ path = \"/\" }]\n\
         load = { model = \"open\", rate = \"200\", max_in_flight = 400 }\n",
    );
    let get = op(&results, "GET /");
    assert_eq!(get.error_count, 0);
    assert!(get.count >= 1150, "{} requests", get.count);
    let latency = get.latency_histogram.decode().unwrap();
    let service = get
        .service_time_histogram
        .as_ref()
        .unwrap()
        .decode()
        .unwrap();
    // About 200 requests were due during the stall: they wait for a connection, up to 1 s
    // from their slot, most of them for more than 300 ms.
    let slow = |h: &plimsoll::measure::LatencyHistogram| h.count_certainly_above(300_000_000, true);
    let diagnosis = format!("{:?} / {:?}", get.latency_ns, get.service_time_ns);
    assert!(latency.max().unwrap() > 900_000_000, "{diagnosis}");
    assert!(slow(&latency) >= 80, "{} slow: {diagnosis}", slow(&latency));
    // Only the 10 on the connections when it began were being served through it.
    assert!(slow(&service) <= 15, "{} slow: {diagnosis}", slow(&service));
    let load = job(&results).load.as_ref().unwrap();
    assert_eq!(load.dropped_ops, 0, "{load:?}");
}

#[test]
fn one_request_per_second_over_ten_idle_connections_has_no_timeouts() {
    let server = TestServer::start(ServerConfig::default());
    let results = run(
        "10s",
        &server.url(),
        "connections = 10\ntimeout = \"1s\"\nrequests = [{ path = \"/\" }]\n\
         load = { model = \"open\", rate = \"1\" }\n",
    );
    let get = op(&results, "GET /");
    assert!((9..=11).contains(&get.count), "{} requests", get.count);
    assert_eq!(errors(&results, "timeout"), 0);
    assert_eq!(get.error_count, 0);
}

#[test]
fn a_302_chain_is_the_response_unless_redirects_are_followed() {
    let server = TestServer::start(ServerConfig::default());
    let requests = "ops = 50\nrequests = [{ name = \"chain\", path = \"/redirect/3\" }]\n";
    let off = run("30s", &server.url(), requests);
    assert_eq!(count(&off, "chain"), 50);
    assert_eq!(server.stats.path_count("/redirect/3"), 50);
    assert_eq!(server.stats.path_count("/redirect/2"), 0);
    assert_eq!(counter(&off, "redirects_followed"), 0);

    let on = run(
        "30s",
        &server.url(),
        &format!("follow_redirects = true\n{requests}"),
    );
    assert_eq!(count(&on, "chain"), 50);
    for hop in ["/redirect/2", "/redirect/1", "/redirect/0"] {
        assert_eq!(server.stats.path_count(hop), 50, "{hop}");
    }
    assert_eq!(counter(&on, "redirects_followed"), 150);

    let short = run(
        "30s",
        &server.url(),
        &format!("follow_redirects = true\nmax_redirects = 2\n{requests}"),
    );
    assert_eq!(errors(&short, "check failed: max_redirects exceeded"), 50);
    assert_eq!(count(&short, "chain"), 0);
}

#[test]
fn a_journey_captures_an_id_and_uses_it_in_the_next_step() {
    let server = TestServer::start(ServerConfig {
        record: 10_000,
        ..ServerConfig::default()
    });
    let results = run(
        "30s",
        &server.url(),
        "connections = 3\nops = 300\n\
         [[jobs.journeys]]\nname = \"order\"\n\
         [[jobs.journeys.steps]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/orders\"\n\
         body = '{\"item\": 1}'\n\
         capture = { id = { json = \"/id\" }, where = { header = \"location\" } }\n\
         checks = [{ status = 201 }]\n\
         [[jobs.journeys.steps]]\nname = \"fetch\"\npath = \"/orders/{{ id }}\"\n\
         checks = [{ status = 200 }, { json = \"/state\", equals = \"open\" }]\n\
         [[jobs.journeys.steps]]\nname = \"again\"\npath = \"{{ where }}\"\n\
         checks = [{ status = 200 }]\n",
    );
    assert_eq!(job(&results).total_errors(), 0);
    let (create, fetch, again) = (
        count(&results, "order.create"),
        count(&results, "order.fetch"),
        count(&results, "order.again"),
    );
    assert_eq!(create + fetch + again, 300);
    // The count stops the 3 users wherever they are in their journeys.
    assert!(
        create >= fetch && fetch >= again && create - again <= 3,
        "{create} {fetch} {again}"
    );
    assert_eq!(counter(&results, "journeys_completed"), again);
    let fetched: Vec<String> = server
        .stats
        .seen()
        .into_iter()
        .filter(|s| s.method == "GET")
        .map(|s| s.path)
        .collect();
    assert_eq!(fetched.len() as u64, fetch + again);
    assert!(
        fetched.iter().all(|p| p.starts_with("/orders/o-")),
        "{fetched:?}"
    );
}

#[test]
fn cookies_are_kept_per_user_within_a_journey() {
    let server = TestServer::start(ServerConfig::default());
    let results = run(
        "30s",
        &server.url(),
        "connections = 2\nops = 200\n\
         [[jobs.journeys]]\nname = \"session\"\n\
         steps = [{ name = \"login\", path = \"/login\" }, { name = \"me\", path = \"/me\" }]\n\
         [[jobs.journeys]]\nname = \"anonymous\"\n\
         steps = [{ name = \"me\", path = \"/me\", checks = [{ status = 401 }] }]\n",
    );
    assert_eq!(job(&results).total_errors(), 0);
    assert!(count(&results, "session.me") > 20);
    assert!(count(&results, "anonymous.me") > 20);
}

#[test]
fn http2_carries_several_streams_on_one_connection() {
    let server = TestServer::start(ServerConfig {
        record: 5,
        service_time: Duration::from_millis(5),
        ..ServerConfig::default()
    });
    let results = run(
        "30s",
        &server.url(),
        "http_version = \"2\"\nconnections = 1\nstreams = 8\nops = 400\n\
         requests = [{ path = \"/\" }]\n",
    );
    assert_eq!(count(&results, "GET /"), 400);
    assert_eq!(
        server.stats.connections(),
        2,
        "one for the probe, one for the load"
    );
    assert_eq!(server.stats.seen()[0].version, hyper::Version::HTTP_2);
    assert_eq!(target(&results, "http_version"), "2");
}

#[test]
fn a_password_in_the_base_url_is_sent_but_never_shown() {
    let server = TestServer::start(ServerConfig {
        record: 1,
        ..ServerConfig::default()
    });
    let url = format!("http://user:s3cret@{}", server.addr);
    let results = run("30s", &url, "ops = 5\nrequests = [{ path = \"/\" }]\n");
    let auth = server.stats.seen()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_eq!(auth, "Basic dXNlcjpzM2NyZXQ=");
    let text = serde_json::to_string(&results).unwrap();
    assert!(!text.contains("s3cret"), "the password reached the results");
    assert!(text.contains("user:***@"));
}

#[test]
fn mistakes_are_refused_before_any_load_with_their_place_and_a_fix() {
    let text = "name = \"t\"\n[[jobs]]\nkind = \"http\"\nname = \"h\"\n\
                base_url = \"http://127.0.0.1:1\"\nconections = 2\n\
                [jobs.values]\nid = { kind = \"int\", min = 1, max = 9 }\n\
                [[jobs.requests]]\npath = \"/u/{{ idd }}\"\nweight = 0\n\
                checks = [{ status_class = \"6xx\" }]\n";
    let error = load_str("bad.toml", text).unwrap_err().to_string();
    assert!(error.contains("bad.toml:6"), "{error}");
    assert!(error.contains("did you mean `connections`?"), "{error}");
    let text = text.replace("conections", "connections");
    let error = load_str("bad.toml", &text).unwrap_err().to_string();
    assert!(
        error.contains("`idd`") && error.contains("did you mean `id`?"),
        "{error}"
    );
    assert!(error.contains("weight is 0"), "{error}");
    assert!(error.contains("6xx"), "{error}");
    assert!(error.contains("jobs[0].requests[0]"), "{error}");
}

#[test]
fn the_example_workload_runs_against_a_local_server() {
    let server = TestServer::start(ServerConfig::default());
    let text = std::fs::read_to_string("workloads/http-api.toml").unwrap();
    let text = text
        .replace("http://127.0.0.1:8080", &server.url())
        .replace("duration = \"20s\"", "duration = \"2s\"")
        .replace("warmup = \"2s\"", "warmup = \"0s\"");
    let workload = load_str("workloads/http-api.toml", &text).unwrap();
    let results = runner::run(
        &workload,
        None,
        &AtomicBool::new(false),
        RunOptions::default(),
    )
    .unwrap();
    assert_eq!(job(&results).total_errors(), 0);
    let browsed = count(&results, "browse.product");
    let ordered = count(&results, "order.create");
    assert!(browsed > ordered && ordered > 10, "{browsed} {ordered}");
    // Each of the 50 lanes is a user that takes its next step at its next slot, so up to 50
    // orders can be waiting for their fetch when the run ends.
    let fetched = count(&results, "order.fetch");
    assert!(
        fetched > 0 && fetched + 50 >= ordered,
        "{fetched} of {ordered}"
    );
}

/// A CA and a server certificate it signed for 127.0.0.1, made by the `openssl` command.
fn make_certificates(dir: &std::path::Path) {
    let openssl = |args: &str| {
        let output = std::process::Command::new("openssl")
            .args(args.split(' '))
            .current_dir(dir)
            .output()
            .expect("the openssl command is installed");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "openssl {args}: {stderr}");
    };
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=plimsoll-http-ca \
         -keyout ca.key -out ca.pem",
    );
    openssl("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr");
    let extensions = "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n";
    std::fs::write(dir.join("server.ext"), extensions).unwrap();
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
         -extfile server.ext -out server.pem",
    );
}

#[test]
fn tls_trusts_a_given_ca_or_skips_verification_when_told() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let server = TestServer::start(ServerConfig {
        record: 1000,
        tls: Some((dir.path().join("server.pem"), dir.path().join("server.key"))),
        ..ServerConfig::default()
    });
    let ca = dir.path().join("ca.pem").display().to_string();
    let trusted = run(
        "30s",
        &server.tls_url(),
        &format!(
            "tls_ca = \"{ca}\"\nconnections = 2\nops = 100\nrequests = [{{ path = \"/\" }}]\n"
        ),
    );
    assert_eq!(count(&trusted, "GET /"), 100);
    assert_eq!(target(&trusted, "tls"), "ca file");

    let h2 = run(
        "30s",
        &server.tls_url(),
        &format!(
            "tls_ca = \"{ca}\"\nhttp_version = \"2\"\nops = 50\nrequests = [{{ path = \"/h2\" }}]\n"
        ),
    );
    assert_eq!(count(&h2, "GET /h2"), 50);
    let over_h2 = server.stats.seen().into_iter().filter(|s| s.path == "/h2");
    assert!(
        over_h2.clone().count() == 50
            && over_h2
                .into_iter()
                .all(|s| s.version == hyper::Version::HTTP_2)
    );

    let insecure = run(
        "30s",
        &server.tls_url(),
        "tls_insecure = true\nops = 20\nrequests = [{ path = \"/\" }]\n",
    );
    assert_eq!(count(&insecure, "GET /"), 20);

    // The system does not trust the test's CA: the run stops at setup, before any load.
    let text = format!(
        "name = \"t\"\nduration = \"5s\"\n[[jobs]]\nkind = \"http\"\nname = \"h\"\n\
         base_url = \"{}\"\nrequests = [{{ path = \"/\" }}]\n",
        server.tls_url()
    );
    let workload = load_str("t.toml", &text).unwrap();
    let before = server.stats.requests();
    let refused = runner::run(
        &workload,
        None,
        &AtomicBool::new(false),
        RunOptions::default(),
    );
    let Err(refused) = refused else {
        panic!("an untrusted certificate is refused")
    };
    let message = format!("{refused:#}");
    assert!(message.contains("(tls)"), "{message}");
    assert_eq!(server.stats.requests(), before);
}
