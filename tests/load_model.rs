//! Load-model keys as a user meets them: errors that name the line, the key and the fix, and
//! a run whose target rate cannot be kept saying so, and why.

use std::sync::atomic::AtomicBool;

use plimsoll::runner::{self, RunOptions};
use plimsoll::workload::{LoadModel, load_str};

const JOB: &str = r#"name = "lm"
duration = "2s"

[[jobs]]
kind = "redis"
name = "cache"
url = "redis://127.0.0.1:6379/0"
"#;

/// Every problem the loader reports for `JOB` plus `extra`, one per line.
fn problems(extra: &str) -> Vec<String> {
    let text = format!("{JOB}{extra}");
    match load_str("w.toml", &text) {
        Ok(_) => Vec::new(),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

fn only(extra: &str) -> String {
    let found = problems(extra);
    assert_eq!(found.len(), 1, "one problem expected: {found:#?}");
    found[0].clone()
}

#[test]
fn a_misspelt_load_key_is_located_and_the_right_one_suggested() {
    let message = only("load = { model = \"open\", rat = \"1k\" }\n");
    assert_eq!(
        message,
        "w.toml:8:26: jobs[0].load (cache): unknown key `rat`; did you mean `rate`?"
    );
}

#[test]
fn an_unknown_model_and_arrival_get_the_closest_value() {
    let message = only("load = { model = \"opn\", rate = \"1k\" }\n");
    assert!(message.starts_with("w.toml:8:18: jobs[0].load.model (cache): unknown model `opn`"));
    assert!(message.ends_with("did you mean `open`?"), "{message}");
    let message = only("load = { model = \"open\", rate = \"1k\", arrival = \"poison\" }\n");
    assert!(message.ends_with("did you mean `poisson`?"), "{message}");
}

#[test]
fn the_open_model_needs_exactly_one_rate_profile() {
    let message = only("load = { model = \"open\" }\n");
    assert!(message.contains("jobs[0].load.model"), "{message}");
    assert!(
        message.contains("needs one of rate, ramp or stages; add one"),
        "{message}"
    );
    let both = "load = { model = \"open\", rate = \"1k\", ramp = { from = \"1\", to = \"2\" } }\n";
    assert_eq!(
        only(both),
        "w.toml:8:46: jobs[0].load.ramp (cache): both rate and ramp are given, but the open \
         model takes only one of rate, ramp or stages; give only one of them and remove the other"
    );
    let all = "[jobs.load]\nmodel = \"open\"\nrate = \"1k\"\nramp = { from = \"1\", to = \"2\" }\n\
               stages = [{ rate = \"5\", duration = \"1s\" }]\n";
    let message = only(all);
    assert!(
        message.starts_with("w.toml:11:8: jobs[0].load.ramp (cache): "),
        "{message}"
    );
    assert!(
        message.contains("give only one and remove the others"),
        "{message}"
    );
    assert!(!message.contains("add one"), "{message}");
}

#[test]
fn open_model_keys_on_a_closed_job_are_refused() {
    let message = only("load = { rate = \"1k\" }\n");
    assert_eq!(
        message,
        "w.toml:8:17: jobs[0].load.rate (cache): rate only applies to the open model; add \
         `model = \"open\"`, or remove it"
    );
}

#[test]
fn stage_and_ramp_tables_check_their_keys() {
    let stages = "load = { model = \"open\", stages = [{ rate = \"10\", durration = \"1s\" }] }\n";
    let found = problems(stages);
    assert!(
        found
            .iter()
            .any(|m| m.contains("unknown key `durration`; did you mean `duration`?")),
        "{found:#?}"
    );
    let ramp = "load = { model = \"open\", ramp = { from = \"1\", too = \"5\" } }\n";
    assert!(only(ramp).contains("unknown key `too`; did you mean `to`?"));
}

#[test]
fn redis_keys_are_checked_with_suggestions() {
    assert!(only("conections = 4\n").ends_with("did you mean `connections`?"));
    let message = only("mix = [{ op = \"gett\" }]\n");
    assert!(message.contains("jobs[0].mix[0].op"), "{message}");
    assert!(message.ends_with("did you mean `get`?"), "{message}");
    let message = only("keys = { count = 10, distribution = { kind = \"zipf\", thta = 1 } }\n");
    assert!(message.ends_with("did you mean `theta`?"), "{message}");
}

#[test]
fn commands_that_break_reply_pairing_are_refused() {
    for (command, reason) in [
        ("[\"subscribe\", \"{key}\"]", "subscriber"),
        ("[\"MONITOR\"]", "streams every command"),
        ("[\"CLIENT\", \"reply\", \"OFF\"]", "changes which replies"),
        ("[\"QUIT\"]", "ends the connection"),
    ] {
        let message = only(&format!("mix = [{{ command = {command} }}]\n"));
        assert!(message.contains("jobs[0].mix[0].command"), "{message}");
        assert!(message.contains(reason), "{message}");
    }
    let fine = format!("{JOB}mix = [{{ command = [\"CLIENT\", \"ID\"] }}]\n");
    load_str("w.toml", &fine).expect("CLIENT ID answers once");
}

#[test]
fn tls_keys_on_a_plain_url_are_refused_before_load_at_their_line() {
    let message = only("tls_insecure = true\n");
    assert!(message.contains("w.toml:8:"), "{message}");
    assert!(
        message.contains("tls_insecure needs a TLS URL"),
        "{message}"
    );
    let tls = JOB.replace("redis://", "rediss://");
    let text = format!("{tls}tls_ca = \"ca.pem\"\ntls_insecure = true\n");
    let error = load_str("w.toml", &text).unwrap_err().to_string();
    assert!(error.contains("tls_ca would never be used"), "{error}");
    load_str("w.toml", &format!("{tls}tls_ca = \"ca.pem\"\n")).expect("a TLS job loads");
}

#[test]
fn a_valid_open_job_keeps_its_profile() {
    let text = format!(
        "{JOB}load = {{ model = \"open\", stages = [{{ rate = \"5k\", duration = \"1s\" }}], \
         arrival = \"poisson\", skip_late = \"50ms\" }}\n"
    );
    let workload = load_str("w.toml", &text).unwrap();
    let plimsoll::workload::Job::Redis(job) = &workload.jobs[0] else {
        panic!("a redis job")
    };
    assert_eq!(job.load.model, LoadModel::Open);
    assert_eq!(job.load.stages.as_ref().unwrap()[0].rate.0, 5_000.0);
}

#[test]
fn a_rate_the_target_cannot_carry_is_reported_as_not_sustained_by_the_target() {
    let text = format!(
        "{JOB}connections = 1\nkeys = {{ prefix = \"t:lm:\" }}\n\
         load = {{ model = \"open\", rate = \"1M\" }}\n"
    );
    let workload = load_str("w.toml", &text).unwrap();
    let results = runner::run(
        &workload,
        None,
        &AtomicBool::new(false),
        RunOptions::default(),
    )
    .expect("the shared Redis on 127.0.0.1:6379 runs (scripts/test.sh starts it)");
    let load = results.jobs[0].load.as_ref().unwrap();
    assert_eq!(load.sustained, Some(false), "{load:?}");
    assert_eq!(load.limit.as_deref(), Some("target"), "{load:?}");
    let summary = plimsoll::report::terminal::summary(&results);
    assert!(summary.contains("TARGET RATE NOT SUSTAINED"), "{summary}");
    assert!(summary.contains("the target was the limit"), "{summary}");
    assert!(
        load.unsent_ops.unwrap() > 100_000,
        "the backlog is counted: {load:?}"
    );
}
