//! The workload file as a user writes it: what loads, and what each mistake is told.
//!
//! Each refusal is checked for the place (line and column), the field and the fix, since that
//! is what a user reads to mend the file.

use std::path::Path;
use std::time::Duration;

use plimsoll::workload::units::ByteSize;
use plimsoll::workload::{Distribution, Job, Pattern, Problem, Workload, load_file, load_str};

/// A valid workload whose last line (9) is the job's last key; tests add lines 10 and on.
const BASE: &str = r#"name = "t"
duration = "10s"

[[jobs]]
kind = "disk"
name = "randread"
path = "."
size = "64MiB"
pattern = "randread"
"#;

fn base_with(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

fn problems(text: &str) -> Vec<Problem> {
    let error = load_str("t.toml", text).expect_err("the file should be refused");
    assert!(
        error.to_string().starts_with("t.toml:"),
        "names the file: {error}"
    );
    error.problems().to_vec()
}

/// The only problem of a file, checked for its place and field.
fn only(text: &str, line: usize, column: usize, field: Option<&str>) -> String {
    let found = problems(text);
    assert_eq!(found.len(), 1, "one problem expected: {found:#?}");
    let problem = &found[0];
    assert_eq!(
        (problem.line, problem.column),
        (line, column),
        "place of {problem:?}"
    );
    assert_eq!(problem.field.as_deref(), field, "field of {problem:?}");
    problem.message.clone()
}

/// The only problem of a job key added on line 10, which sits at column 1 (a key) or at the
/// value's column.
fn job_key(extra: &str, column: usize, field: &str) -> String {
    only(&base_with(extra), 10, column, Some(field))
}

fn disk(workload: &Workload, index: usize) -> &plimsoll::workload::DiskJob {
    match &workload.jobs[index] {
        Job::Disk(job) => job,
        other => panic!("jobs[{index}] is not a disk job: {other:?}"),
    }
}

// Keys and names.

#[test]
fn a_misspelt_job_key_is_located_and_the_right_one_suggested() {
    let error = load_str("workloads/x.toml", &base_with("queue_dept = 4")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "workloads/x.toml:10:1: jobs[0] (randread): unknown key `queue_dept`; did you mean \
         `queue_depth`?"
    );
}

#[test]
fn fio_names_for_keys_point_to_ours() {
    let message = job_key("iodepth = 32", 1, "jobs[0] (randread)");
    assert!(
        message.ends_with("did you mean `queue_depth`?"),
        "{message}"
    );
    let message = job_key(r#"bs = "4k""#, 1, "jobs[0] (randread)");
    assert!(message.ends_with("did you mean `block_size`?"), "{message}");
}

#[test]
fn an_unknown_key_with_nothing_close_lists_the_keys_a_job_takes() {
    let message = job_key("colour = 3", 1, "jobs[0] (randread)");
    assert!(
        message.starts_with("unknown key `colour`; remove it"),
        "{message}"
    );
    assert!(message.contains("queue_depth") && message.contains("allow_block_device"));
}

#[test]
fn a_misspelt_top_level_key_is_refused_with_a_suggestion() {
    let text = BASE.replace("duration =", "durration =");
    let message = only(&text, 2, 1, None);
    assert_eq!(message, "unknown key `durration`; did you mean `duration`?");
}

#[test]
fn a_misspelt_pattern_gets_the_closest_and_the_list() {
    let text = BASE.replace(r#"pattern = "randread""#, r#"pattern = "randrd""#);
    let message = only(&text, 9, 11, Some("jobs[0].pattern (randread)"));
    assert_eq!(
        message,
        "unknown pattern `randrd` (valid: read, write, randread, randwrite, rw, randrw); did you \
         mean `randread`?"
    );
}

#[test]
fn a_misspelt_engine_gets_the_closest() {
    let message = job_key(r#"engine = "uring""#, 10, "jobs[0].engine (randread)");
    assert!(message.ends_with("did you mean `io_uring`?"), "{message}");
}

#[test]
fn an_unknown_kind_names_the_valid_kinds() {
    let text = BASE.replace(r#"kind = "disk""#, r#"kind = "mongodb""#);
    let message = only(&text, 5, 8, Some("jobs[0].kind (randread)"));
    assert_eq!(
        message,
        "unknown job kind `mongodb`; use one of disk, redis, null, postgres, http, mysql"
    );
    let text = BASE.replace(r#"kind = "disk""#, r#"kind = "dsk""#);
    assert!(only(&text, 5, 8, Some("jobs[0].kind (randread)")).ends_with("did you mean `disk`?"));
}

#[test]
fn a_job_without_kind_is_told_to_add_one() {
    let text = BASE.replace("kind = \"disk\"\n", "");
    let message = only(&text, 4, 1, Some("jobs[0] (randread)"));
    assert_eq!(
        message,
        "missing key `kind` (valid: disk, redis, null, postgres, http, mysql); add it, like \
         `kind = \"disk\"`"
    );
}

#[test]
fn distribution_kinds_and_keys_are_checked_with_suggestions() {
    let extra = r#"distribution = { kind = "zipfian", theta = 1.2 }"#;
    let message = job_key(extra, 25, "jobs[0].distribution.kind (randread)");
    assert!(message.ends_with("did you mean `zipf`?"), "{message}");
    assert!(
        message.contains("uniform, zipf, pareto, normal, zones"),
        "{message}"
    );

    let extra = r#"distribution = { kind = "zipf", tehta = 1.2 }"#;
    let message = job_key(extra, 33, "jobs[0].distribution (randread)");
    assert_eq!(message, "unknown key `tehta`; did you mean `theta`?");
}

#[test]
fn a_uniform_distribution_takes_no_parameters() {
    let extra = r#"distribution = { kind = "uniform", theta = 1.2 }"#;
    let message = job_key(extra, 36, "jobs[0].distribution (randread)");
    assert!(message.starts_with("unknown key `theta`"), "{message}");
}

#[test]
fn keys_inside_lists_of_tables_are_checked() {
    let extra = r#"block_size_mix = [{ size = "4k", weight = 1 }, { size = "8k", wieght = 1 }]"#;
    let message = job_key(extra, 63, "jobs[0].block_size_mix[1] (randread)");
    assert_eq!(message, "unknown key `wieght`; did you mean `weight`?");
}

// Types and units.

#[test]
fn a_value_of_the_wrong_type_names_the_field_and_shows_the_form() {
    let message = job_key(
        r#"queue_depth = "sixteen""#,
        15,
        "jobs[0].queue_depth (randread)",
    );
    assert_eq!(
        message,
        "queue_depth must be a whole number from 1 to 16384, not a string \"sixteen\"; write \
         it like `queue_depth = 16`"
    );
}

#[test]
fn a_bad_unit_says_which_units_exist() {
    let message = job_key(
        r#"block_size = "4 parsecs""#,
        14,
        "jobs[0].block_size (randread)",
    );
    assert!(message.contains("unknown size unit `parsecs`"), "{message}");
    assert!(message.contains("KiB"), "{message}");
}

#[test]
fn a_missing_required_key_is_told_with_an_example() {
    let text = BASE.replace("pattern = \"randread\"\n", "");
    let message = only(&text, 4, 1, Some("jobs[0] (randread)"));
    assert_eq!(
        message,
        "missing key `pattern`; add it, like `pattern = \"randread\"`"
    );
}

#[test]
fn a_syntax_error_is_located() {
    let message = only(&base_with("queue_depth = = 4"), 10, 15, None);
    assert!(message.contains("extra `=`"), "{message}");
}

#[test]
fn a_repeated_key_is_named() {
    let message = only(&base_with(r#"name = "again""#), 10, 1, None);
    assert!(message.starts_with("duplicate key `name`"), "{message}");
}

#[test]
fn several_problems_are_all_reported_by_line() {
    let text = BASE.replace("duration =", "durration =")
        + "queue_dept = 4\n[[jobs]]\nkind = \"disk\"\nname = \"w\"\n\
           path = \".\"\npattern = \"write\"\nworkers = -1\n";
    let found = problems(&text);
    let places: Vec<_> = found.iter().map(|p| (p.line, p.field.clone())).collect();
    assert_eq!(
        places,
        [
            (2, None),
            (10, Some("jobs[0] (randread)".to_owned())),
            (16, Some("jobs[1].workers (w)".to_owned()))
        ]
    );
    let error = load_str("t.toml", &text).unwrap_err().to_string();
    assert_eq!(error.lines().count(), 3, "one line each: {error}");
}

#[test]
fn every_bad_threshold_is_reported_at_its_own_entry() {
    let text = "name = \"t\"\nthresholds = [\n  \"p99 < 5ms\",\n  \"p99 << 5ms\",\n  \
                \"bogus > 3\",\n]\n\n[[jobs]]\nkind = \"null\"\nname = \"n\"\nthresholds = [\n  \
                \"p99 < 5ms\",\n  \"p999 < 5ms\",\n  \"errors < 1.5\",\n]\n";
    let found = problems(text);
    let places: Vec<_> = found
        .iter()
        .map(|p| (p.line, p.column, p.field.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        places,
        [
            (4, 3, "thresholds[1]".to_owned()),
            (5, 3, "thresholds[2]".to_owned()),
            (13, 3, "jobs[0].thresholds[1] (n)".to_owned()),
            (14, 3, "jobs[0].thresholds[2] (n)".to_owned()),
        ],
        "{found:#?}"
    );
    assert!(found[3].message.contains("whole number"), "{found:#?}");
}

#[test]
fn every_bad_value_of_the_workload_and_of_a_job_is_reported() {
    let text = "name = \"t\"\nduration = \"soon\"\ninterval = -3\nthresholds = [\"p99 <\"]\n\n\
                [[jobs]]\nkind = \"null\"\nname = \"n\"\nworkers = -1\nqueue_depth = \"x\"\n\
                delay = true\nthresholds = [\"p99 < 1ms\", \"p99 5ms\"]\n";
    let found = problems(text);
    let places: Vec<_> = found
        .iter()
        .map(|p| (p.line, p.field.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        places,
        [
            (2, "duration".to_owned()),
            (3, "interval".to_owned()),
            (4, "thresholds[0]".to_owned()),
            (9, "jobs[0].workers (n)".to_owned()),
            (10, "jobs[0].queue_depth (n)".to_owned()),
            (11, "jobs[0].delay (n)".to_owned()),
            (12, "jobs[0].thresholds[1] (n)".to_owned()),
        ],
        "{found:#?}"
    );
}

#[test]
fn a_negative_count_says_what_the_key_takes() {
    let message = job_key("workers = -1", 11, "jobs[0].workers (randread)");
    assert_eq!(
        message,
        "workers must be a whole number from 1 to 1024, and `-1` is not; write it like \
         `workers = 2`"
    );
    let text = "name = \"t\"\n[[jobs]]\nkind = \"redis\"\nname = \"r\"\n\
                url = \"redis://127.0.0.1:6379\"\nconnections = -4\n";
    let message = only(text, 6, 15, Some("jobs[0].connections (r)"));
    assert!(
        message.starts_with("connections must be a whole number from 1 to 10000, and `-4` is not"),
        "{message}"
    );
    assert!(!message.contains("4294967295"), "{message}");
}

#[test]
fn a_bad_value_in_a_table_with_a_kind_is_placed_at_its_key() {
    let job = "name = \"t\"\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n\
               url = \"postgres://u@127.0.0.1/test\"\n[jobs.workload]\nkind = \"ycsb\"\n\
               core = \"a\"\n";
    let text = format!("{job}records = -5\n");
    let message = only(&text, 9, 11, Some("jobs[0].workload.records (pg)"));
    assert_eq!(
        message,
        "records must be a whole number of 1 or more, and `-5` is not"
    );
    let text = format!("{job}distribution = {{ kind = \"zipfian\", theta = \"high\" }}\n");
    let message = only(
        &text,
        9,
        44,
        Some("jobs[0].workload.distribution.theta (pg)"),
    );
    assert!(message.contains("expected a number"), "{message}");
}

#[test]
fn a_bad_list_value_is_told_what_a_list_value_is_at_its_own_line() {
    let job = "name = \"t\"\n[[jobs]]\nkind = \"postgres\"\nname = \"pg\"\n\
               url = \"postgres://u@127.0.0.1/test\"\n[jobs.workload]\nkind = \"custom\"\n\
               transactions = [{ name = \"q\", statements = [\"SELECT {v}\"] }]\n\
               [jobs.workload.params]\n";
    let text = format!("{job}v = {{ kind = \"list\", values = [1, {{ a = 1 }}] }}\n");
    let message = only(
        &text,
        10,
        35,
        Some("jobs[0].workload.params.v.values[1] (pg)"),
    );
    assert_eq!(
        message,
        "a list value is a string or a whole number, like `values = [1, 10, 100]` or \
         `values = [\"gold\", \"silver\"]`, not a table"
    );
    let text =
        format!("{job}[jobs.workload.params.v]\nkind = \"list\"\nvalues = [\n  1,\n  2.5,\n]\n");
    let message = only(
        &text,
        14,
        3,
        Some("jobs[0].workload.params.v.values[1] (pg)"),
    );
    assert!(message.ends_with("not `2.5`"), "{message}");
}

#[test]
fn an_unknown_operator_shows_the_form_and_the_operators() {
    let message = job_key(
        r#"thresholds = ["p99 << 5ms"]"#,
        15,
        "jobs[0].thresholds[0] (randread)",
    );
    assert_eq!(
        message,
        "`<<` in `p99 << 5ms` is not an operator; a threshold reads like `p99 < 5ms` \
         (operators: < <= > >= ==)"
    );
}

#[test]
fn threads_beyond_connections_are_told_alike_for_every_network_kind() {
    for (kind, url) in [
        ("redis", "redis://127.0.0.1:6379"),
        ("postgres", "postgres://127.0.0.1/test"),
        ("http", "http://127.0.0.1:8080"),
    ] {
        let url_key = if kind == "http" { "base_url" } else { "url" };
        let text = format!(
            "name = \"t\"\n[[jobs]]\nkind = \"{kind}\"\nname = \"j\"\n{url_key} = \"{url}\"\n\
             connections = 2\nthreads = 3\n"
        );
        let found: Vec<_> = problems(&text)
            .into_iter()
            .filter(|p| p.field.as_deref() == Some("jobs[0].threads (j)"))
            .collect();
        assert_eq!(found.len(), 1, "{kind}: {found:#?}");
        assert_eq!(
            found[0].message,
            "threads (3) is more than connections (2), so some threads would have nothing to \
             drive; lower threads or raise connections",
            "{kind}"
        );
        // No connections at all is one mistake, told once, at its own key.
        let none = text.replace("connections = 2\nthreads = 3\n", "connections = 0\n");
        let fields: Vec<_> = problems(&none)
            .into_iter()
            .filter_map(|p| p.field)
            .filter(|f| f.contains("threads") || f.contains("connections"))
            .collect();
        assert_eq!(fields, ["jobs[0].connections (j)"], "{kind}");
    }
}

#[test]
fn a_threshold_on_an_operation_the_job_lacks_is_refused_with_its_operations() {
    let text = base_with(
        "thresholds = [\"read: p99 < 5ms\", \"nosuchop: p99 < 5ms\"]\n\n[[jobs]]\n\
         kind = \"disk\"\nname = \"w\"\npath = \".\"\nsize = \"1MiB\"\npattern = \"write\"\n\
         fsync_every = 4\nthresholds = [\"fsync: p99 < 1s\", \"write: p99 < 1s\"]",
    )
    .replace(
        "duration = \"10s\"\n",
        "duration = \"10s\"\nthresholds = [\"randread.raed: p99 < 5ms\"]\n",
    );
    let found = problems(&text);
    let messages: Vec<_> = found
        .iter()
        .map(|p| (p.line, p.column, p.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                3,
                15,
                "job `randread` has no operation `raed` (its operations: read); did you mean \
                 `read`?"
            ),
            (
                11,
                34,
                "job `randread` has no operation `nosuchop` (its operations: read)"
            ),
        ],
        "{found:#?}"
    );
}

#[test]
fn thresholds_on_operations_named_at_setup_or_by_the_user_pass() {
    let text = "name = \"t\"\nthresholds = [\"api.place.create: p99 < 1s\", \
                \"cache.incr: p99 < 1s\", \"db.anything_1: p99 < 1s\"]\n\n\
                [[jobs]]\nkind = \"http\"\nname = \"api\"\nbase_url = \"http://127.0.0.1:1\"\n\
                [[jobs.journeys]]\nname = \"place\"\n\
                steps = [{ name = \"create\", path = \"/a\" }, { path = \"/b\" }]\n\n\
                [[jobs]]\nkind = \"redis\"\nname = \"cache\"\nurl = \"redis://127.0.0.1:1\"\n\
                mix = [{ command = [\"INCR\", \"k\"], weight = 1 }, { op = \"get\", weight = 1 }]\n\
                thresholds = [\"get: p99 < 1s\"]\n\n\
                [[jobs]]\nkind = \"postgres\"\nname = \"db\"\nurl = \"postgres://127.0.0.1/test\"\n\
                thresholds = [\"whatever: p99 < 1s\"]\n";
    if let Err(error) = load_str("t.toml", text) {
        panic!("{error}");
    }
    let wrong = text.replace("api.place.create", "api.place.step3");
    let found = problems(&wrong);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].message,
        "job `api` has no operation `place.step3` (its operations: place.create, place.step2); \
         did you mean `place.step2`?"
    );
}

// Values.

#[test]
fn a_missing_top_level_key_is_about_the_file_not_its_first_key() {
    let message = only(&BASE.replace("name = \"t\"\n", ""), 1, 1, None);
    assert_eq!(
        message,
        "missing key `name`; add it, like `name = \"nightly-disk\"`"
    );
}

#[test]
fn a_share_out_of_range_echoes_what_was_written() {
    let text = BASE.replace(r#""randread""#, r#""randrw""#) + "read_share = \"120%\"\n";
    let message = only(&text, 10, 14, Some("jobs[0].read_share (randrw)"));
    assert_eq!(
        message,
        "`120%` is outside 0% to 100%; write a share like `70%` or `0.7`"
    );
}

#[test]
fn the_workload_needs_a_name_and_a_job() {
    let text = BASE.replace(r#"name = "t""#, r#"name = "  ""#);
    assert!(only(&text, 1, 8, Some("name")).starts_with("the workload's name is empty"));
    let message = only("name = \"t\"\n", 1, 1, Some("jobs"));
    assert_eq!(
        message,
        "the workload has no jobs; add at least one `[[jobs]]` section"
    );
    only("name = \"t\"\njobs = []\n", 2, 8, Some("jobs"));
}

#[test]
fn job_names_are_non_empty_and_unique() {
    let text = BASE.replace(r#"name = "randread""#, r#"name = """#);
    assert!(only(&text, 6, 8, Some("jobs[0].name")).starts_with("the job's name is empty"));

    let second = "[[jobs]]\nkind = \"disk\"\nname = \"randread\"\npath = \".\"\npattern = \"read\"";
    let message = only(&base_with(second), 12, 8, Some("jobs[1].name (randread)"));
    assert_eq!(
        message,
        "job name `randread` is already used by jobs[0]; give each job its own name"
    );
}

#[test]
fn duration_and_interval_must_be_positive_and_fit() {
    let zero = BASE.replace(r#"duration = "10s""#, r#"duration = "0s""#);
    assert!(only(&zero, 2, 12, Some("duration")).starts_with("duration is 0"));
    let message = only(
        &format!("interval = \"0s\"\n{BASE}"),
        1,
        12,
        Some("interval"),
    );
    assert!(message.starts_with("interval is 0"), "{message}");
    let message = only(
        &format!("interval = \"20s\"\n{BASE}"),
        1,
        12,
        Some("interval"),
    );
    assert_eq!(
        message,
        "interval (20s) is longer than duration (10s), so the series would not have one whole \
         interval; make interval at most 10s"
    );
}

#[test]
fn warmup_cannot_be_negative_but_may_outlast_the_run() {
    let message = only(&format!("warmup = -1\n{BASE}"), 1, 10, Some("warmup"));
    assert!(message.contains("negative duration"), "{message}");
    only(&format!("warmup = \"-1s\"\n{BASE}"), 1, 10, Some("warmup"));

    // Case 8: warmup 3 s, duration 2 s is valid input; the runner keeps the phases apart.
    let text = BASE.replace(r#"duration = "10s""#, "warmup = \"3s\"\nduration = \"2s\"");
    let workload = load_str("t.toml", &text).unwrap();
    assert_eq!(workload.warmup.0, Duration::from_secs(3));
    assert_eq!(workload.duration.0, Duration::from_secs(2));
}

#[test]
fn queue_depth_is_between_1_and_the_ring_limit() {
    let message = job_key("queue_depth = 0", 15, "jobs[0].queue_depth (randread)");
    assert!(message.starts_with("queue_depth is 0"), "{message}");
    let message = job_key("queue_depth = 16385", 15, "jobs[0].queue_depth (randread)");
    assert!(message.contains("more than 16384"), "{message}");
    load_str("t.toml", &base_with("queue_depth = 16384")).unwrap();
}

#[test]
fn the_sync_engine_runs_one_operation_at_a_time() {
    let extra = "engine = \"sync\"\nqueue_depth = 4";
    let message = only(
        &base_with(extra),
        11,
        15,
        Some("jobs[0].queue_depth (randread)"),
    );
    assert!(
        message.contains("set queue_depth = 1 and raise workers"),
        "{message}"
    );
    let extra = "engine = \"sync\"\nsqpoll = true";
    only(&base_with(extra), 11, 10, Some("jobs[0].sqpoll (randread)"));
}

#[test]
fn workers_are_between_1_and_a_sane_bound() {
    assert!(job_key("workers = 0", 11, "jobs[0].workers (randread)").starts_with("workers is 0"));
    let message = job_key("workers = 5000", 11, "jobs[0].workers (randread)");
    assert!(message.contains("more than 1024"), "{message}");
}

#[test]
fn block_sizes_are_positive_and_given_one_way() {
    let message = job_key("block_size = 0", 14, "jobs[0].block_size (randread)");
    assert!(
        message.starts_with("the block size is 0 bytes"),
        "{message}"
    );

    let extra = "block_size = \"4k\"\nblock_size_mix = [{ size = \"8k\", weight = 1 }]";
    let message = only(
        &base_with(extra),
        11,
        18,
        Some("jobs[0].block_size_mix (randread)"),
    );
    assert!(
        message.starts_with("block_size and block_size_mix are both set"),
        "{message}"
    );

    let message = job_key(
        "block_size_mix = []",
        18,
        "jobs[0].block_size_mix (randread)",
    );
    assert!(message.starts_with("block_size_mix is empty"), "{message}");
}

#[test]
fn mix_entries_need_a_size_and_a_weight_above_0() {
    let extra = r#"block_size_mix = [{ size = "4k", weight = 0 }, { size = 0, weight = 1 }]"#;
    let found = problems(&base_with(extra));
    let fields: Vec<_> = found
        .iter()
        .map(|p| (p.column, p.field.as_deref().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            (43, "jobs[0].block_size_mix[0].weight (randread)"),
            (57, "jobs[0].block_size_mix[1].size (randread)")
        ]
    );
    assert!(
        found[0]
            .message
            .starts_with("weight is 0, so this size would never be picked")
    );
}

#[test]
fn direct_io_with_unaligned_blocks_is_refused_naming_the_alignment() {
    // Case 7: 1000-byte blocks with direct I/O, before any load.
    let extra = "direct = true\nblock_size = 1000";
    let message = only(
        &base_with(extra),
        11,
        14,
        Some("jobs[0].block_size (randread)"),
    );
    assert!(
        message.contains("aligned") && message.contains("512B"),
        "{message}"
    );
    assert!(message.ends_with("or set direct = false"), "{message}");
    load_str("t.toml", &base_with("block_size = 1000")).unwrap();
}

#[test]
fn size_must_hold_the_largest_block() {
    let text = BASE.replace(r#"size = "64MiB""#, r#"size = "2KiB""#);
    let message = only(&text, 8, 8, Some("jobs[0].size (randread)"));
    assert_eq!(
        message,
        "size (2KiB) is smaller than the largest block size (4KiB), so not one block fits in \
         the file; make size at least 4KiB"
    );
    load_str("t.toml", &BASE.replace("size = \"64MiB\"\n", "")).expect("size may be left out");
}

#[test]
fn one_sync_cadence_at_a_time_and_only_when_writing() {
    let text = BASE.replace(r#""randread""#, r#""write""#);
    let extra = "fsync_every = 8\nfdatasync_every = 8";
    let message = only(
        &format!("{text}{extra}\n"),
        11,
        19,
        Some("jobs[0].fdatasync_every (write)"),
    );
    assert!(
        message.starts_with("fsync_every and fdatasync_every are both set"),
        "{message}"
    );
    let message = only(
        &format!("{text}fsync_every = 0\n"),
        10,
        15,
        Some("jobs[0].fsync_every (write)"),
    );
    assert!(message.starts_with("fsync_every is 0"), "{message}");

    let message = job_key(
        "fdatasync_every = 4",
        19,
        "jobs[0].fdatasync_every (randread)",
    );
    assert!(message.contains("only reads"), "{message}");
}

#[test]
fn read_share_only_with_mixed_patterns() {
    let message = job_key(r#"read_share = "70%""#, 14, "jobs[0].read_share (randread)");
    assert_eq!(
        message,
        "read_share only applies to the mixed patterns rw and randrw, and pattern is \
         `randread`; remove it, or set pattern = \"randrw\""
    );
    let text = BASE.replace(r#""randread""#, r#""randrw""#);
    load_str("t.toml", &format!("{text}read_share = \"70%\"\n")).unwrap();
}

#[test]
fn a_distribution_needs_a_random_pattern() {
    let text = BASE.replace(r#""randread""#, r#""read""#);
    let extra = r#"distribution = { kind = "zipf", theta = 1.2 }"#;
    let message = only(
        &format!("{text}{extra}\n"),
        10,
        16,
        Some("jobs[0].distribution (read)"),
    );
    assert!(
        message.ends_with("or use a random pattern like `randread`"),
        "{message}"
    );
}

#[test]
fn distribution_parameters_are_in_range() {
    let zipf = r#"distribution = { kind = "zipf", theta = 0.0 }"#;
    let message = job_key(zipf, 41, "jobs[0].distribution.theta (randread)");
    assert!(
        message.starts_with("theta is 0, but zipf needs it above 0"),
        "{message}"
    );
    for h in ["0.0", "1.0", "1.5"] {
        let pareto = format!(r#"distribution = {{ kind = "pareto", h = {h} }}"#);
        job_key(&pareto, 39, "jobs[0].distribution.h (randread)");
    }
    let normal = r#"distribution = { kind = "normal", stddev = "0%" }"#;
    job_key(normal, 44, "jobs[0].distribution.stddev (randread)");
}

#[test]
fn zone_shares_are_positive_and_add_up_to_100_percent() {
    let zones = |a: &str, b: &str| {
        format!(
            "distribution = {{ kind = \"zones\", zones = [{{ access = {a}, size = \"50%\" }}, \
             {{ access = {b}, size = \"50%\" }}] }}"
        )
    };
    let message = job_key(
        &zones(r#""80%""#, r#""10%""#),
        42,
        "jobs[0].distribution.zones (randread)",
    );
    assert!(
        message.starts_with("the zones' access shares add up to 90%, not 100%"),
        "{message}"
    );

    let found = problems(&base_with(&zones(r#""100%""#, r#""0%""#)));
    let field = found[0].field.as_deref();
    assert_eq!(
        field,
        Some("jobs[0].distribution.zones[1].access (randread)")
    );

    // Decimals that add up to 1 only within rounding still do.
    let three = "distribution = { kind = \"zones\", zones = [{ access = 0.1, size = 0.1 }, \
                 { access = 0.2, size = 0.2 }, { access = 0.7, size = 0.7 }] }";
    load_str("t.toml", &base_with(three)).unwrap();
}

#[test]
fn caps_are_above_0() {
    let message = job_key("iops_cap = 0", 12, "jobs[0].iops_cap (randread)");
    assert!(message.contains("must be a positive rate"), "{message}");
    let message = job_key("bandwidth_cap = 0", 17, "jobs[0].bandwidth_cap (randread)");
    assert!(
        message.starts_with("bandwidth_cap is 0 bytes per second"),
        "{message}"
    );
    let workload = load_str("t.toml", &base_with("iops_cap = \"5k\"")).unwrap();
    assert_eq!(
        disk(&workload, 0).iops_cap.unwrap().0,
        5000.0,
        "rates are decimal"
    );
}

#[test]
fn bare_numbers_are_bytes_and_seconds_and_strings_need_units() {
    let text = BASE.replace(r#""10s""#, "15") + "block_size = 4096\n";
    let workload = load_str("t.toml", &text).unwrap();
    assert_eq!(workload.duration.0, Duration::from_secs(15));
    assert_eq!(disk(&workload, 0).block_size, Some(ByteSize(4096)));
    let message = only(
        &BASE.replace(r#""10s""#, r#""15""#),
        2,
        12,
        Some("duration"),
    );
    assert!(message.contains("write it like `30s`"), "{message}");
}

// Whole files.

#[test]
fn a_good_file_keeps_its_meaning_through_serialize_and_load() {
    let first = load_file(Path::new("workloads/mixed-70-30.toml")).unwrap();
    let written = toml::to_string(&first).unwrap();
    let second = load_str("written.toml", &written).unwrap();
    assert_eq!(toml::to_string(&second).unwrap(), written);

    let job = disk(&second, 0);
    assert_eq!(job.pattern, Pattern::RandRw);
    assert!((job.read_fraction() - 0.7).abs() < 1e-12);
    assert!(matches!(job.distribution, Distribution::Zipf { theta } if theta == 1.2));
    assert_eq!(job.block_sizes().len(), 3);
}

#[test]
fn every_example_workload_loads() {
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir("workloads").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            loaded.push(path);
        }
    }
    assert!(loaded.len() >= 4, "examples found: {loaded:?}");
}

#[test]
fn the_quickstart_takes_about_20_seconds_and_leaves_nothing_behind() {
    let workload = load_file(Path::new("workloads/quickstart.toml")).unwrap();
    let total = workload.warmup.0 + workload.duration.0;
    assert!(total <= Duration::from_secs(20), "{total:?}");
    assert_eq!(workload.jobs.len(), 2);
    for index in 0..2 {
        let job = disk(&workload, index);
        assert_eq!(job.path, Path::new("."));
        assert!(job.size.is_some_and(|size| size <= ByteSize(256 << 20)));
        assert!(!job.keep && !job.allow_existing && !job.allow_block_device);
    }
}

#[test]
fn an_unreadable_file_is_named() {
    let error = load_file(Path::new("/nonexistent/plimsoll.toml")).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("cannot read workload file /nonexistent/plimsoll.toml: "));
    assert!(
        message.ends_with("; check the path and its permissions"),
        "{message}"
    );
}
