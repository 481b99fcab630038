//! `bench-tools`: what `make bench` needs besides the server it measures. It is built only with
//! the `bench` feature, so the seeder that drops indexes and switches off triggers, and the
//! tutorial's slow query, are never part of the server that serves people.

use anyhow::Context;
use clap::{Parser, Subcommand};

mod feed;

#[derive(Parser)]
#[command(about = "Microblog's benchmark tools (see scripts/bench.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill an empty database with the benchmark's data set, of the size given below.
    SeedScale(ScaleArgs),
    /// Measure the feed query on a `seed-scale` database.
    BenchFeed(feed::BenchFeedArgs),
}

#[derive(clap::Args)]
struct ScaleArgs {
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
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    match cli.command {
        // It installs its own tracing subscriber, to capture query plans.
        Command::BenchFeed(args) => feed::run(&url, args).await,
        Command::SeedScale(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
                .init();
            // No statement timeout: the bulk loads run for many seconds.
            let pool = server::connect(&url, 16, None)
                .await
                .context("cannot reach the database at DATABASE_URL")?;
            app::db::migrate(&pool)
                .await
                .context("cannot apply the database migrations")?;
            let options = app::seed::scale::ScaleOptions {
                users: args.users,
                posts_per_user: args.posts_per_user,
                follows_per_user: args.follows_per_user,
                heavy_users: args.heavy,
                heavy_follows: args.heavy_follows,
                seed: args.seed,
            };
            println!("{}", app::seed::scale::scale(&pool, &options).await?);
        }
    }
    Ok(())
}
