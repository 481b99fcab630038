//! All SQL of Microblog. Functions take the pool (or a connection) explicitly and return
//! `AppError`s whose 4xx variants carry messages fit for people.

pub mod follows;
pub mod posts;
pub mod users;

use crate::error::AppError;
use sqlx::PgPool;

/// Applies Microblog's migrations and creates the session store's table.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    sqlx::migrate!("../migrations")
        .run(pool)
        .await
        .map_err(MigrateError::Schema)?;
    tower_sessions_sqlx_store::PostgresStore::new(pool.clone())
        .migrate()
        .await
        .map_err(MigrateError::Sessions)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("applying the schema migrations failed: {0}")]
    Schema(#[source] sqlx::migrate::MigrateError),
    #[error("creating the session table failed: {0}")]
    Sessions(#[source] sqlx::Error),
}

/// The name of the constraint a database error violated, if any.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}

/// Whether the database is reachable, for `/healthz`.
pub async fn ping(pool: &PgPool) -> Result<(), AppError> {
    sqlx::query_scalar!("SELECT 1 AS \"one!\"")
        .fetch_one(pool)
        .await?;
    Ok(())
}
