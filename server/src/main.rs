use anyhow::Context;
use app::state::AppState;
use clap::{Parser, Subcommand};
use server::config::Config;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_sqlx_store::PostgresStore;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator, for two measured reasons: under page load glibc spent
/// about a third of the server's time in malloc/free (arena locks, consolidation), and it kept
/// each freed 19 MiB Argon2 block in the arena of whichever thread ran the check, so 32 sign-ins
/// at once left the server at 366 MiB. mimalloc returns freed memory to the system by itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod feed_bench;

#[derive(Parser)]
#[command(about = "Microblog: serve the site, or fill its database")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (the default).
    Serve,
    /// Fill the database with demo or benchmark data.
    Seed(SeedArgs),
    /// Measure the feed query on a `seed --scale` database (see scripts/bench.sh).
    BenchFeed(feed_bench::BenchFeedArgs),
}

#[derive(clap::Args)]
struct SeedArgs {
    /// A few dozen users, posts and follows, only if the database has no users yet.
    #[arg(long, conflicts_with = "scale")]
    demo: bool,
    /// A benchmark data set of the size given below.
    #[arg(long)]
    scale: bool,
    #[arg(long, default_value_t = 100_000)]
    users: i64,
    #[arg(long, default_value_t = 10)]
    posts_per_user: i64,
    #[arg(long, default_value_t = 100)]
    follows_per_user: i64,
    /// How many users follow `--heavy-follows` others.
    #[arg(long, default_value_t = 10)]
    heavy: i64,
    #[arg(long, default_value_t = 5_000)]
    heavy_follows: i64,
    /// Seed of the random generator, in [-1, 1]: the same seed gives the same data.
    #[arg(long, default_value_t = 0.42)]
    seed: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::BenchFeed(args)) = cli.command {
        // It installs its own tracing subscriber, to capture query plans.
        let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
        feed_bench::run(&url, args).await;
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let config = Config::from_env()?;
    let command = cli.command.unwrap_or(Command::Serve);
    // Only serving bounds its statements: the seed's bulk loads run for many seconds.
    let statement_timeout =
        matches!(command, Command::Serve).then_some(config.limits.statement_timeout);
    let pool = server::connect(
        &config.database_url,
        config.max_db_connections,
        statement_timeout,
    )
    .await
    .context("cannot reach the database at DATABASE_URL; is PostgreSQL running?")?;
    app::db::migrate(&pool)
        .await
        .context("cannot apply the database migrations")?;

    match command {
        Command::Seed(args) if args.scale => {
            let options = app::seed::ScaleOptions {
                users: args.users,
                posts_per_user: args.posts_per_user,
                follows_per_user: args.follows_per_user,
                heavy_users: args.heavy,
                heavy_follows: args.heavy_follows,
                seed: args.seed,
            };
            let report = app::seed::scale(&pool, &options).await?;
            println!("{report}");
            Ok(())
        }
        Command::Seed(_) => {
            if app::seed::demo(&pool).await? {
                println!(
                    "seeded the demo data (password of every demo user: {})",
                    app::seed::DEMO_PASSWORD
                );
            } else {
                println!("the database already has users; demo data not added");
            }
            Ok(())
        }
        Command::Serve => serve(config, pool).await,
        Command::BenchFeed(_) => unreachable!("handled before connecting"),
    }
}

async fn serve(config: Config, pool: sqlx::PgPool) -> anyhow::Result<()> {
    let address = config.leptos_options.site_addr;
    let state = AppState {
        leptos_options: config.leptos_options,
        pool,
        sign_in_throttle: std::sync::Arc::new(app::throttle::SignInThrottle::new(
            config.sign_in_throttle,
        )),
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    // Expired sessions are refused when read; this only keeps the table from growing forever.
    let session_sweeper = tokio::spawn(
        PostgresStore::new(state.pool.clone())
            .continuously_delete_expired(std::time::Duration::from_secs(60 * 60)),
    );
    tracing::info!("Microblog is serving on http://{address}");
    let router = server::router(state, config.secure_cookies, config.limits);
    server::serve::serve(
        listener,
        router,
        config.connections,
        server::shutdown_signal(),
    )
    .await;
    session_sweeper.abort();
    Ok(())
}
