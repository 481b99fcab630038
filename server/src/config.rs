//! All configuration, read once from the environment (and `.env`).

use crate::live::LiveLimits;
use crate::serve::ConnectionLimits;
use anyhow::Context;
use app::db::follow_queue;
use app::db::follows::FollowLimits;
use app::throttle::ThrottleSettings;
use leptos::config::LeptosOptions;
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

/// `name` parsed as a `T`, or `default` when unset; a value that does not parse is an error.
fn setting<T: FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a number, not {value:?}")),
        Err(_) => Ok(default),
    }
}

fn seconds(name: &str, default: Duration) -> anyhow::Result<Duration> {
    let value: f64 = setting(name, default.as_secs_f64())?;
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .with_context(|| format!("{name} must be a positive number of seconds"))
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        // A missing .env is normal; a malformed one would silently change settings, so say so.
        if let Err(error) = dotenvy::dotenv()
            && !error.not_found()
        {
            return Err(error).context("reading .env");
        }
        let database_url = std::env::var("DATABASE_URL").context(
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
        let public_url = std::env::var("MICROBLOG_PUBLIC_URL").unwrap_or_default();
        let request_defaults = RequestLimits::default();
        let connection_defaults = ConnectionLimits::default();
        let throttle_defaults = ThrottleSettings::default();
        let live_defaults = LiveLimits::default();
        let follow_defaults = FollowLimits::default();
        // 0 lifts a limit (`make bench` does, to measure the follow path itself).
        let unless_zero = |count: u32| (count > 0).then_some(count);
        let replica_urls = std::env::var("MICROBLOG_REPLICA_URLS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Config {
            live: LiveLimits {
                per_user: setting("MICROBLOG_LIVE_STREAMS_PER_USER", live_defaults.per_user)?,
                per_process: setting(
                    "MICROBLOG_LIVE_STREAMS_PER_PROCESS",
                    live_defaults.per_process,
                )?,
            },
            page_cache_megabytes: setting(
                "MICROBLOG_PAGE_CACHE_MB",
                crate::page_cache::DEFAULT_MEGABYTES,
            )?,
            follow_workers: Some(setting("MICROBLOG_FOLLOW_WORKERS", follow_queue::WORKERS)?)
                .filter(|workers| *workers > 0)
                .context("MICROBLOG_FOLLOW_WORKERS must be at least 1")?,
            follow_limits: FollowLimits {
                changes_burst: unless_zero(setting(
                    "MICROBLOG_FOLLOW_CHANGES_BURST",
                    follow_defaults.changes_burst.unwrap_or(0),
                )?),
                per_change: seconds(
                    "MICROBLOG_FOLLOW_CHANGE_EVERY_SECS",
                    follow_defaults.per_change,
                )?,
                following_cap: unless_zero(setting(
                    "MICROBLOG_FOLLOWING_CAP",
                    follow_defaults.following_cap.unwrap_or(0),
                )?),
            },
            replica_urls,
            replica_max_lag: seconds("MICROBLOG_REPLICA_MAX_LAG_SECS", Duration::from_secs(5))?,
            database_url,
            leptos_options,
            secure_cookies: public_url.starts_with("https://"),
            max_db_connections: setting("MICROBLOG_DB_CONNECTIONS", 16)?,
            limits: RequestLimits {
                request_timeout: seconds(
                    "MICROBLOG_REQUEST_TIMEOUT_SECS",
                    request_defaults.request_timeout,
                )?,
                statement_timeout: seconds(
                    "MICROBLOG_STATEMENT_TIMEOUT_SECS",
                    request_defaults.statement_timeout,
                )?,
            },
            connections: ConnectionLimits {
                header_read_timeout: seconds(
                    "MICROBLOG_HEADER_TIMEOUT_SECS",
                    connection_defaults.header_read_timeout,
                )?,
                max_connections: setting(
                    "MICROBLOG_MAX_CONNECTIONS",
                    connection_defaults.max_connections,
                )?,
                shutdown_grace: connection_defaults.shutdown_grace,
            },
            sign_in_throttle: ThrottleSettings {
                per_address_per_minute: setting(
                    "MICROBLOG_SIGN_INS_PER_ADDRESS_PER_MINUTE",
                    throttle_defaults.per_address_per_minute,
                )?,
                per_account_burst: setting(
                    "MICROBLOG_SIGN_INS_PER_ACCOUNT",
                    throttle_defaults.per_account_burst,
                )?,
                account_refill_seconds: throttle_defaults.account_refill_seconds,
            },
        })
    }
}
