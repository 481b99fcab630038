//! All configuration, read once at start: each setting is a flag of `server` and an
//! environment variable (also read from `.env`), declared once below with its default, which
//! comes from the module that owns the mechanism. `server --help` lists them all; a test keeps
//! the README's table equal to that list.

use crate::live::LiveLimits;
use crate::serve::ConnectionLimits;
use anyhow::Context;
use app::db::follow_queue;
use app::db::follows::FollowLimits;
use app::throttle::ThrottleSettings;
use leptos::config::LeptosOptions;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub leptos_options: LeptosOptions,
    /// Mark the session cookie `Secure`: on when the public address is https.
    pub secure_cookies: bool,
    pub max_db_connections: u32,
    pub limits: RequestLimits,
    pub connections: ConnectionLimits,
    pub sign_in_throttle: ThrottleSettings,
    /// Streaming replicas of the database for reads (`MICROBLOG_REPLICA_URLS`, comma-separated).
    pub replica_urls: Vec<String>,
    /// A replica further behind the primary than this serves no reads until it catches up.
    pub replica_max_lag: Duration,
    pub live: LiveLimits,
    /// How many megabytes of rendered pages (home, explore, profiles) each process keeps
    /// (`page_cache`); 0 keeps none.
    pub page_cache_megabytes: usize,
    /// Workers making this process's follows and unfollows in batches (`db::follow_queue`).
    pub follow_workers: usize,
    /// How many follow changes one account may make, and how many people it may follow.
    pub follow_limits: FollowLimits,
}

/// Bounds on what one request may cost.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// A whole request, body included, from its head to the response (408 after it).
    pub request_timeout: Duration,
    /// Any one SQL statement of a request (PostgreSQL's `statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            request_timeout: Duration::from_secs(30),
            // The slowest statement a page runs takes a few milliseconds on 1M posts.
            statement_timeout: Duration::from_secs(5),
        }
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            // Stays below the usual limit of 1,024 open files per process, leaving room for the
            // database pool and the log.
            max_connections: 900,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A positive number of seconds, fractions allowed, as a setting gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim()
            .parse::<f64>()
            .ok()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .filter(|duration| !duration.is_zero())
            .map(Seconds)
            .ok_or_else(|| format!("{text:?} is not a positive number of seconds"))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

/// A count that must be at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(format!("{text:?} is not a whole number of at least 1")),
    }
}

/// 0 lifts a limit (`make bench` does, to measure the follow path itself).
fn unless_zero(count: u32) -> Option<u32> {
    (count > 0).then_some(count)
}

/// Every setting of the server. Leptos's own (`LEPTOS_SITE_ADDR` and the other `LEPTOS_*`)
/// and `RUST_LOG` are read by Leptos and tracing themselves.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Settings (each one also from its environment variable or .env)")]
pub struct Settings {
    /// PostgreSQL to use; migrations run at start.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Public address; when `https://…`, the session cookie is `Secure`.
    #[arg(long, env = "MICROBLOG_PUBLIC_URL", default_value = "")]
    pub public_url: String,
    /// Database pool size per server process.
    #[arg(long, env = "MICROBLOG_DB_CONNECTIONS", default_value_t = 16)]
    pub db_connections: u32,
    /// Tasks per process making follows and unfollows in batches.
    #[arg(long, env = "MICROBLOG_FOLLOW_WORKERS", default_value_t = follow_queue::WORKERS,
          value_parser = at_least_one)]
    pub follow_workers: usize,
    /// Time a client has to send a request's head, and that an idle connection stays open.
    #[arg(long, env = "MICROBLOG_HEADER_TIMEOUT_SECS",
          default_value_t = Seconds(ConnectionLimits::default().header_read_timeout))]
    pub header_timeout_secs: Seconds,
    /// Time for a whole request, body included (408 after it).
    #[arg(long, env = "MICROBLOG_REQUEST_TIMEOUT_SECS",
          default_value_t = Seconds(RequestLimits::default().request_timeout))]
    pub request_timeout_secs: Seconds,
    /// PostgreSQL `statement_timeout` (and idle-in-transaction timeout) of the connections.
    #[arg(long, env = "MICROBLOG_STATEMENT_TIMEOUT_SECS",
          default_value_t = Seconds(RequestLimits::default().statement_timeout))]
    pub statement_timeout_secs: Seconds,
    /// Open connections per process; more are closed as they arrive.
    #[arg(long, env = "MICROBLOG_MAX_CONNECTIONS",
          default_value_t = ConnectionLimits::default().max_connections)]
    pub max_connections: usize,
    /// Sign-ins plus registrations per client address per minute, for the whole site.
    #[arg(long, env = "MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE",
          default_value_t = ThrottleSettings::default().per_address_per_minute)]
    pub sign_ins_per_address_per_minute: u32,
    /// Sign-ins naming one account in a burst, for the whole site.
    #[arg(long, env = "MICROBLOG_SIGN_INS_PER_ACCOUNT",
          default_value_t = ThrottleSettings::default().per_account_burst)]
    pub sign_ins_per_account: u32,
    /// Follows plus unfollows one account may make at once, for the whole site; 0 lifts it.
    #[arg(long, env = "MICROBLOG_FOLLOW_CHANGES_BURST",
          default_value_t = FollowLimits::default().changes_burst.unwrap_or(0))]
    pub follow_changes_burst: u32,
    /// After the burst, one more follow change every this many seconds.
    #[arg(long, env = "MICROBLOG_FOLLOW_CHANGE_EVERY_SECS",
          default_value_t = Seconds(FollowLimits::default().per_change))]
    pub follow_change_every_secs: Seconds,
    /// Nobody follows more than this many people (or 1.1 × their followers); 0 lifts it.
    #[arg(long, env = "MICROBLOG_FOLLOWING_CAP",
          default_value_t = FollowLimits::default().following_cap.unwrap_or(0))]
    pub following_cap: u32,
    /// Comma-separated PostgreSQL streaming replicas to read from.
    #[arg(
        long,
        env = "MICROBLOG_REPLICA_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub replica_urls: Vec<String>,
    /// A replica further behind the primary than this serves no reads until it catches up.
    #[arg(long, env = "MICROBLOG_REPLICA_MAX_LAG_SECS",
          default_value_t = Seconds(Duration::from_secs(5)))]
    pub replica_max_lag_secs: Seconds,
    /// Live home feeds one person may keep open, on all processes together.
    #[arg(long, env = "MICROBLOG_LIVE_STREAMS_PER_USER",
          default_value_t = LiveLimits::default().per_user)]
    pub live_streams_per_user: usize,
    /// Live home feeds open on one process.
    #[arg(long, env = "MICROBLOG_LIVE_STREAMS_PER_PROCESS",
          default_value_t = LiveLimits::default().per_process)]
    pub live_streams_per_process: usize,
    /// Megabytes of rendered pages each process keeps to serve again; 0 turns the cache off.
    #[arg(long, env = "MICROBLOG_PAGE_CACHE_MB",
          default_value_t = crate::page_cache::DEFAULT_MEGABYTES)]
    pub page_cache_mb: usize,
}

impl Config {
    pub fn from_settings(settings: Settings) -> anyhow::Result<Self> {
        let database_url = settings.database_url.context(
            "DATABASE_URL is not set. `make run` sets it to a project-local PostgreSQL; \
             otherwise export it, e.g. postgres://user@localhost/microblog",
        )?;
        let mut leptos_options = leptos::config::get_configuration(None)
            .context("reading the Leptos configuration (LEPTOS_* variables)")?
            .leptos_options;
        // cargo-leptos names the site's files by their hashes (`hash-files` in Cargo.toml) and
        // writes the hashes beside the binary, but only tells a server it starts itself. A
        // server started directly must find them too, or its pages would ask for files that
        // do not exist.
        if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
            leptos_options.hash_files = std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.join(leptos_options.hash_file.as_ref())))
                .is_some_and(|hashes| hashes.exists());
        }
        Ok(Config {
            database_url,
            leptos_options,
            secure_cookies: settings.public_url.starts_with("https://"),
            max_db_connections: settings.db_connections,
            limits: RequestLimits {
                request_timeout: settings.request_timeout_secs.0,
                statement_timeout: settings.statement_timeout_secs.0,
            },
            connections: ConnectionLimits {
                header_read_timeout: settings.header_timeout_secs.0,
                max_connections: settings.max_connections,
                shutdown_grace: ConnectionLimits::default().shutdown_grace,
            },
            sign_in_throttle: ThrottleSettings {
                per_address_per_minute: settings.sign_ins_per_address_per_minute,
                per_account_burst: settings.sign_ins_per_account,
                account_refill_seconds: ThrottleSettings::default().account_refill_seconds,
            },
            replica_urls: settings
                .replica_urls
                .iter()
                .map(|url| url.trim())
                .filter(|url| !url.is_empty())
                .map(str::to_owned)
                .collect(),
            replica_max_lag: settings.replica_max_lag_secs.0,
            live: LiveLimits {
                per_user: settings.live_streams_per_user,
                per_process: settings.live_streams_per_process,
            },
            page_cache_megabytes: settings.page_cache_mb,
            follow_workers: settings.follow_workers,
            follow_limits: FollowLimits {
                changes_burst: unless_zero(settings.follow_changes_burst),
                per_change: settings.follow_change_every_secs.0,
                following_cap: unless_zero(settings.following_cap),
            },
        })
    }
}

/// Reads `.env` into the environment, before the settings are parsed from it. A missing `.env`
/// is normal; a malformed one would silently change settings, so it is an error.
pub fn read_dotenv() -> anyhow::Result<()> {
    match dotenvy::dotenv() {
        Err(error) if !error.not_found() => Err(error).context("reading .env"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, Command};

    /// (variable, default) for every setting, as `server --help` gives them.
    fn declared() -> Vec<(String, String)> {
        Settings::augment_args(Command::new("server"))
            .get_arguments()
            .filter_map(|arg| {
                let variable = arg.get_env()?.to_str()?.to_owned();
                let default = arg
                    .get_default_values()
                    .first()
                    .and_then(|value| value.to_str())
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned);
                Some((variable, default.unwrap_or_else(|| "(none)".to_owned())))
            })
            .collect()
    }

    /// (variable, default) for every row of the README's configuration table.
    fn documented() -> Vec<(String, String)> {
        include_str!("../../README.md")
            .lines()
            .skip_while(|line| !line.starts_with("| variable | default |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .filter_map(|row| {
                let mut cells = row.split('|').map(str::trim).skip(1);
                let variable = cells.next()?.trim_matches('`').to_owned();
                let default = cells.next()?.trim_matches('`').to_owned();
                Some((variable, default))
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_every_setting_with_its_default() {
        let documented = documented();
        for (variable, default) in declared() {
            let row = documented.iter().find(|(name, _)| *name == variable);
            assert!(row.is_some(), "README's table lacks {variable}");
            let (_, readme_default) = row.unwrap();
            // The database's default is the project-local cluster that `make run` starts.
            if variable != "DATABASE_URL" {
                assert_eq!(*readme_default, default, "README's default for {variable}");
            }
        }
        let known: Vec<String> = declared().into_iter().map(|(name, _)| name).collect();
        for (variable, _) in documented {
            assert!(
                known.contains(&variable)
                    || variable.starts_with("LEPTOS_")
                    || variable == "RUST_LOG",
                "README's table names {variable}, which the server does not read"
            );
        }
    }

    #[test]
    fn seconds_are_positive_numbers() {
        assert_eq!(
            "1.5".parse::<Seconds>(),
            Ok(Seconds(Duration::from_millis(1500)))
        );
        for wrong in ["0", "-3", "soon", "", "NaN", "inf"] {
            assert!(wrong.parse::<Seconds>().is_err(), "{wrong:?} was accepted");
        }
        assert_eq!(Seconds(Duration::from_secs(15)).to_string(), "15");
    }

    #[test]
    fn a_follow_worker_count_is_at_least_one() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").is_err());
        assert!(at_least_one("two").is_err());
    }
}
