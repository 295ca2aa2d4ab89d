//! Before load: one connection to see the server answer (and learn its version), then, if
//! the job asks, a SET of every key in the key space, with its own progress bar.
//!
//! Runs on a runtime of its own, which is gone before any measured thread starts.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::commands::Plan;
use crate::workload::RedisJob;

/// What the prefill did, for the results.
#[derive(Debug, Clone, Serialize)]
pub struct PrefillFacts {
    pub keys: u64,
    pub elapsed_ns: u64,
}

/// SETs per pipeline during the prefill.
const PREFILL_BATCH: u64 = 500;
/// Connections the prefill uses at most.
const PREFILL_CONNECTIONS: u64 = 8;

pub(super) fn check_and_fill(
    job: &RedisJob,
    client: &redis::Client,
    plan: &Plan,
) -> anyhow::Result<(Option<String>, Option<PrefillFacts>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let timeout = job.timeout.0;
        let mut conn = connect(client, timeout).await?;
        let version = server_version(&mut conn).await;
        if !job.prefill {
            return Ok((version, None));
        }
        let facts = fill(job, client, plan).await?;
        Ok((version, Some(facts)))
    })
}

async fn connect(
    client: &redis::Client,
    timeout: Duration,
) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("connecting")?;
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .context("PING")?;
    Ok(conn)
}

async fn server_version(conn: &mut redis::aio::MultiplexedConnection) -> Option<String> {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(conn)
        .await
        .ok()?;
    let line = info.lines().find(|l| l.starts_with("redis_version:"))?;
    Some(line.trim_start_matches("redis_version:").trim().to_owned())
}

async fn fill(job: &RedisJob, client: &redis::Client, plan: &Plan) -> anyhow::Result<PrefillFacts> {
    let started = Instant::now();
    let count = job.keys.count;
    tracing::info!(target: crate::PHASE, "prefill: job `{}` writing {count} keys", job.name);
    let bar = progress(count);
    let workers = PREFILL_CONNECTIONS.min(u64::from(job.connections)).max(1);
    let mut fills = Vec::new();
    for w in 0..workers {
        let conn = connect(client, job.timeout.0).await?;
        fills.push(fill_share(conn, plan, (w, workers), count, &bar));
    }
    for result in join_all(fills).await {
        result.context("prefill")?;
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        target: crate::PHASE,
        "prefill: job `{}` wrote {count} keys in {seconds:.1} s ({:.0} keys/s)",
        job.name,
        count as f64 / seconds.max(1e-9)
    );
    Ok(PrefillFacts {
        keys: count,
        elapsed_ns: started.elapsed().as_nanos() as u64,
    })
}

/// Keys `w`, `w + n`, `w + 2n`... in pipelines of [`PREFILL_BATCH`].
async fn fill_share(
    mut conn: redis::aio::MultiplexedConnection,
    plan: &Plan,
    (w, n): (u64, u64),
    count: u64,
    bar: &ProgressBar,
) -> redis::RedisResult<()> {
    let mut key = Vec::new();
    let mut pipe = redis::pipe();
    let mut next = w;
    while next < count {
        pipe.clear();
        let mut batch = 0;
        while next < count && batch < PREFILL_BATCH {
            plan.key(next, &mut key);
            pipe.cmd("SET")
                .arg(&key[..])
                .arg(plan.prefill_value())
                .ignore();
            (next, batch) = (next + n, batch + 1);
        }
        let () = pipe.query_async(&mut conn).await?;
        bar.inc(batch);
    }
    Ok(())
}

/// Polls every future to completion on this task; the prefill has a handful.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn progress(count: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(count), ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) = ProgressStyle::with_template("prefill {bar:24} {pos}/{len} keys") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
