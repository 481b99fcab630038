//! All configuration, read once from the environment (and `.env`).

use anyhow::Context;
use leptos::config::LeptosOptions;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub leptos_options: LeptosOptions,
    /// Mark the session cookie `Secure`: on when the public address is https.
    pub secure_cookies: bool,
    pub max_db_connections: u32,
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
        let leptos_options = leptos::config::get_configuration(None)
            .context("reading the Leptos configuration (LEPTOS_* variables)")?
            .leptos_options;
        let public_url = std::env::var("MICROBLOG_PUBLIC_URL").unwrap_or_default();
        let max_db_connections = match std::env::var("MICROBLOG_DB_CONNECTIONS") {
            Ok(value) => value
                .parse()
                .context("MICROBLOG_DB_CONNECTIONS must be a number")?,
            Err(_) => 16,
        };
        Ok(Config {
            database_url,
            leptos_options,
            secure_cookies: public_url.starts_with("https://"),
            max_db_connections,
        })
    }
}
