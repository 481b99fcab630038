//! `bench-tools bench-feed`: feed query latency on a seeded data set, our keyset query against the
//! Flask tutorial's UNION + OFFSET query, for a typical reader and a heavy one, on page 1 and
//! page 50. Ours is timed twice: called without the reader's following count (so it reads it
//! first), and as a page calls it, with the count read along with the signed-in user. Prints a
//! Markdown table; writes EXPLAIN (ANALYZE, BUFFERS) of the heavy reader's feed to `--explain`.
//! Run by `make bench` (scripts/bench.sh).

use app::db::{posts, suggestions, tutorial};
use app::domain::Username;
use app::model::{PAGE_SIZE, PageRequest, SUGGESTIONS_SHOWN, UserId};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchFeedArgs {
    /// A reader who follows a typical number of users.
    #[arg(long, default_value = "bench100")]
    typical: String,
    /// A reader who follows thousands.
    #[arg(long, default_value = "bench0")]
    heavy: String,
    /// Timed runs of our query per case.
    #[arg(long, default_value_t = 1000)]
    runs: usize,
    /// Timed runs of the tutorial's query per case (it is slow).
    #[arg(long, default_value_t = 100)]
    baseline_runs: usize,
    /// Where to write the heavy reader's query plans.
    #[arg(long)]
    explain: Option<String>,
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

async fn measure<F, Fut>(runs: usize, mut once: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Warm the caches and the prepared statement first, as a running server would have.
    for _ in 0..runs.min(20) {
        once().await;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        once().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: samples.iter().sum::<Duration>() / samples.len() as u32,
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1e3)
}

/// The request that shows page `page` (1-based), found by walking the pages before it.
async fn page_request(pool: &PgPool, me: UserId, page: usize) -> PageRequest {
    let mut request = PageRequest::First;
    for _ in 1..page {
        let shown = posts::followed_posts(pool, me, None, request)
            .await
            .unwrap();
        request = PageRequest::OlderThan(shown.older.expect("the feed has that many pages"));
    }
    request
}

pub async fn run(url: &str, args: BenchFeedArgs) {
    // The server's own pool settings, so the figures are the server's.
    let pool = server::connect(url, 2, None).await.unwrap();
    let id_of = |name: String| {
        let pool = pool.clone();
        async move {
            let name = Username::parse(&name).expect("a well-formed username");
            app::db::users::id_by_username(&pool, &name).await.unwrap()
        }
    };
    let readers = [
        ("typical", id_of(args.typical.clone()).await),
        ("heavy", id_of(args.heavy.clone()).await),
    ];

    println!("| query | reader | follows | page | runs | p50 ms | p99 ms | mean ms |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut ratios = Vec::new();
    for (label, me) in readers {
        let follows: i64 = sqlx::query_scalar("SELECT following_count FROM users WHERE id = $1")
            .bind(me.get())
            .fetch_one(&pool)
            .await
            .unwrap();
        for page in [1usize, 50] {
            let request = page_request(&pool, me, page).await;
            let ours = measure(args.runs, || {
                let pool = pool.clone();
                async move {
                    posts::followed_posts(&pool, me, None, request)
                        .await
                        .unwrap();
                }
            })
            .await;
            // A page has read the count with the signed-in user, so its feed is one statement.
            let as_a_page_asks = measure(args.runs, || {
                let pool = pool.clone();
                async move {
                    posts::followed_posts(&pool, me, Some(follows), request)
                        .await
                        .unwrap();
                }
            })
            .await;
            let tutorial = measure(args.baseline_runs, || {
                let pool = pool.clone();
                async move {
                    tutorial::followed_posts(&pool, me, page as i64, PAGE_SIZE)
                        .await
                        .unwrap();
                }
            })
            .await;
            for (name, stats, runs) in [
                ("keyset (ours)", &ours, args.runs),
                (
                    "keyset, count known (as a page runs it)",
                    &as_a_page_asks,
                    args.runs,
                ),
                ("tutorial union/offset", &tutorial, args.baseline_runs),
            ] {
                println!(
                    "| {name} | {label} | {follows} | {page} | {runs} | {} | {} | {} |",
                    ms(stats.p50),
                    ms(stats.p99),
                    ms(stats.mean)
                );
            }
            ratios.push(format!(
                "{label} reader, page {page}: ours is {:.0}× faster at p50 ({} ms vs {} ms)",
                tutorial.p50.as_secs_f64() / ours.p50.as_secs_f64(),
                ms(ours.p50),
                ms(tutorial.p50)
            ));
        }
    }
    println!();
    for ratio in ratios {
        println!("- {ratio}");
    }

    // Who to follow, for the same readers and for one who follows nobody.
    let newcomer = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM users WHERE following_count = 0 ORDER BY id LIMIT 1",
    )
    .fetch_optional(&pool)
    .await
    .unwrap()
    .map(UserId::new);
    println!();
    println!("| who to follow | reader | follows | runs | p50 ms | p99 ms | mean ms |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let suggested_to = readers
        .iter()
        .copied()
        .chain(newcomer.map(|id| ("follows nobody", id)));
    for (label, me) in suggested_to {
        let follows: i64 = sqlx::query_scalar("SELECT following_count FROM users WHERE id = $1")
            .bind(me.get())
            .fetch_one(&pool)
            .await
            .unwrap();
        let ranking = measure(args.runs, || {
            let pool = pool.clone();
            async move {
                suggestions::rank_suggestions(&pool, me).await.unwrap();
            }
        })
        .await;
        let shown = measure(args.runs, || {
            let pool = pool.clone();
            async move {
                suggestions::suggestions(&pool, None, me, SUGGESTIONS_SHOWN)
                    .await
                    .unwrap();
            }
        })
        .await;
        for (what, stats) in [
            ("ranking (on a miss)", ranking),
            ("the box (kept ranking)", shown),
        ] {
            println!(
                "| {what} | {label} | {follows} | {} | {} | {} | {} |",
                args.runs,
                ms(stats.p50),
                ms(stats.p99),
                ms(stats.mean)
            );
        }
    }

    if let Some(path) = args.explain {
        explain_heavy_feed(url, readers[1].1, &path).await;
    }
}

/// Runs the heavy reader's feed (page 1 and page 50) on a connection where auto_explain
/// reports every plan back as a NOTICE, so what is explained is exactly the query the app sends.
async fn explain_heavy_feed(url: &str, me: UserId, path: &str) {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Notices(Arc<Mutex<Vec<String>>>);
    struct Visitor<'a>(&'a mut String);
    impl tracing::field::Visit for Visitor<'_> {
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            if field.name() == "message" {
                self.0.push_str(value);
            }
        }
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0.push_str(&format!("{value:?}"));
            }
        }
    }
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Notices {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if event.metadata().target() == "sqlx::postgres::notice" {
                let mut text = String::new();
                event.record(&mut Visitor(&mut text));
                self.0.lock().unwrap().push(text);
            }
        }
    }

    let notices = Notices::default();
    let subscriber = tracing_subscriber::registry().with(notices.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .options(server::SESSION_SETTINGS);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    &mut *connection,
                    "LOAD 'auto_explain';
                     SET auto_explain.log_min_duration = 0;
                     SET auto_explain.log_analyze = on;
                     SET auto_explain.log_buffers = on;
                     SET auto_explain.log_level = notice;
                     SET client_min_messages = notice;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .unwrap();
    let mut report = String::new();
    for page in [1usize, 50] {
        let request = page_request(&pool, me, page).await;
        notices.0.lock().unwrap().clear();
        posts::followed_posts(&pool, me, None, request)
            .await
            .unwrap();
        report.push_str(&format!("-- heavy reader (user id {me}), page {page}\n"));
        for notice in notices.0.lock().unwrap().iter() {
            report.push_str(notice);
            report.push('\n');
        }
        report.push('\n');
    }
    std::fs::write(path, report).unwrap();
}
