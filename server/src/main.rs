use anyhow::Context;
use app::db::follow_queue::FollowQueue;
use app::db::replicas::{Replica, Replicas};
use app::state::AppState;
use clap::{Parser, Subcommand};
use server::config::{Config, Settings};
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator, for two measured reasons: under page load glibc spent
/// about a third of the server's time in malloc/free (arena locks, consolidation), and it kept
/// each freed 19 MiB Argon2 block in the arena of whichever thread ran the check, so 32 sign-ins
/// at once left the server at 366 MiB. mimalloc returns freed memory to the system by itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Microblog: serve the site, or fill an empty database with demo data")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (the default).
    Serve,
    /// Fill the database with demo data (the benchmark's data set is `bench-tools seed-scale`).
    Seed(SeedArgs),
}

#[derive(clap::Args)]
struct SeedArgs {
    /// A few dozen users, posts and follows, only if the database has no users yet.
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::config::read_dotenv()?;
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let config = Config::from_settings(cli.settings)?;
    let command = cli.command.unwrap_or(Command::Serve);
    // Only serving bounds its statements: seeding may take longer on a slow machine.
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
        Command::Seed(args) if !args.demo => {
            anyhow::bail!("say what to seed: `seed --demo`")
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
    }
}

async fn serve(config: Config, pool: sqlx::PgPool) -> anyhow::Result<()> {
    let address = config.leptos_options.site_addr;
    let replicas = config
        .replica_urls
        .iter()
        .enumerate()
        .map(|(index, url)| {
            let name = format!("replica{}", index + 1);
            let pool = server::connect_replica(
                url,
                config.max_db_connections,
                Some(config.limits.statement_timeout),
            )
            .with_context(|| format!("MICROBLOG_REPLICA_URLS: {name} is not a database URL"))?;
            Ok(Replica::new(name, pool))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let replicas = Arc::new(Replicas::new(replicas, config.replica_max_lag));
    if !replicas.is_empty() {
        tracing::info!(
            replicas = replicas.nodes().len(),
            "reads go to replicas that have caught up with the reader"
        );
        tokio::spawn(replicas.clone().watch(pool.clone()));
    }
    let state = AppState {
        leptos_options: config.leptos_options,
        follows: FollowQueue::start(pool.clone(), config.follow_workers, config.follow_limits),
        pool,
        replicas,
        sign_in_throttle: app::throttle::SignInThrottle::new(config.sign_in_throttle),
        signed_in_sessions: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    // Expired sessions and spent limits are refused or ignored when read; this only keeps
    // their tables from growing forever.
    let session_sweeper = tokio::spawn(app::db::sessions::keep_sweeping(
        state.pool.clone(),
        std::time::Duration::from_secs(10 * 60),
    ));
    tracing::info!("Microblog is serving on http://{address}");
    let live = server::live::Hub::start(state.pool.clone(), config.live);
    let page_cache = server::page_cache::PageCache::new(config.page_cache_megabytes);
    let router = server::router(
        state,
        config.secure_cookies,
        config.limits,
        live,
        page_cache,
    );
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
