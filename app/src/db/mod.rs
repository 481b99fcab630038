//! All SQL of Microblog. Functions take the pool (or a connection) explicitly and return
//! `AppError`s whose 4xx variants carry messages fit for people.

pub mod follow_queue;
pub mod follows;
pub mod limits;
pub mod live;
pub mod logic;
pub mod page_stamps;
pub mod posts;
pub mod replicas;
pub mod sessions;
pub mod suggestions;
#[cfg(feature = "bench")]
pub mod tutorial;
pub mod users;

use crate::error::AppError;
use sqlx::PgPool;

pub use logic::MIGRATOR;

/// Applies Microblog's migrations and installs its database logic (`db::logic`), all in one
/// transaction: a process that starts meanwhile waits for it, and one already serving sees
/// the database before or after, never in between.
///
/// Making the logic again takes a lock on each table with triggers, one after another, and a
/// write already holding one of them while it waits for another deadlocks with it. PostgreSQL
/// then ends one of the two (40P01): a write is made again by its caller (the follow queue
/// does), and the migration is run again here.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    let mut attempts_left = 5;
    loop {
        match migrate_once(pool).await {
            Err(error) if attempts_left > 0 && error.is_deadlock() => {
                attempts_left -= 1;
                tracing::warn!(%error, "migrating met a write in a deadlock; trying again");
            }
            outcome => return outcome,
        }
    }
}

async fn migrate_once(pool: &PgPool) -> Result<(), MigrateError> {
    let mut transaction = pool.begin().await?;
    // Held to the commit: sqlx's own lock is let go when its run ends, before this commits.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('microblog migrations', 0))")
        .execute(&mut *transaction)
        .await?;
    // A schema `r` other than this build's is made again (before the first migration there
    // is no record of one).
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *transaction)
        .await?;
    if migrated {
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1 AND checksum <> $2")
            .bind(logic::VERSION)
            .bind(logic::checksum())
            .execute(&mut *transaction)
            .await?;
    }
    MIGRATOR
        .run(&mut *transaction)
        .await
        .map_err(MigrateError::Schema)?;
    transaction.commit().await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("applying the schema migrations failed: {0}")]
    Schema(#[source] sqlx::migrate::MigrateError),
    #[error("the database failed while migrating: {0}")]
    Database(#[from] sqlx::Error),
}

impl MigrateError {
    fn is_deadlock(&self) -> bool {
        let database_error = match self {
            MigrateError::Database(error) => error.as_database_error(),
            MigrateError::Schema(
                sqlx::migrate::MigrateError::Execute(error)
                | sqlx::migrate::MigrateError::ExecuteMigration(error, _),
            ) => error.as_database_error(),
            MigrateError::Schema(_) => None,
        };
        database_error.and_then(|error| error.code()).as_deref() == Some("40P01")
    }
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

/// Fetches the rows of a keyset-paginated `sqlx::query_as!`, written once for both walking
/// directions (use it inside an async fn; it awaits).
///
/// In the SQL, given as string literals joined with `+`, the word `past` stands for the
/// comparison that moves beyond the bound (`<` walking towards older rows, `>` towards newer)
/// and `order` for the sort direction (`DESC` / `ASC`). Each direction is expanded to its own
/// literal query, so each is still checked against the schema at compile time and its
/// `WHERE (time, id) past (…) ORDER BY time order, id order` matches its index exactly, which
/// one query with `CASE`s could not.
///
/// ```ignore
/// let rows = fetch_keyset_page!(pool, bound.walk, PostRow,
///     "SELECT … WHERE (p.created_at, p.id) " + past + " ($1, $2)
///      ORDER BY p.created_at " + order + ", p.id " + order + " LIMIT $3",
///     bound.at, bound.id, limit)?;
/// ```
macro_rules! fetch_keyset_page {
    ($executor:expr, $walk:expr, $row:path, $($sql_and_args:tt)+) => {
        match $walk {
            $crate::present::Walk::TowardsOlder => {
                $crate::db::fetch_keyset_page!(@spell $executor, $row, "<", "DESC", [] [$($sql_and_args)+])
            }
            $crate::present::Walk::TowardsNewer => {
                $crate::db::fetch_keyset_page!(@spell $executor, $row, ">", "ASC", [] [$($sql_and_args)+])
            }
        }
    };
    // The SQL ends at the first comma; what follows are the bind parameters.
    (@spell $executor:expr, $row:path, $past:tt, $order:tt, [$($sql:tt)*] [, $($args:tt)*]) => {
        sqlx::query_as!($row, $($sql)*, $($args)*).fetch_all($executor).await
    };
    (@spell $executor:expr, $row:path, $past:tt, $order:tt, [$($sql:tt)*] [past $($rest:tt)*]) => {
        $crate::db::fetch_keyset_page!(@spell $executor, $row, $past, $order, [$($sql)* $past] [$($rest)*])
    };
    (@spell $executor:expr, $row:path, $past:tt, $order:tt, [$($sql:tt)*] [order $($rest:tt)*]) => {
        $crate::db::fetch_keyset_page!(@spell $executor, $row, $past, $order, [$($sql)* $order] [$($rest)*])
    };
    (@spell $executor:expr, $row:path, $past:tt, $order:tt, [$($sql:tt)*] [$next:tt $($rest:tt)*]) => {
        $crate::db::fetch_keyset_page!(@spell $executor, $row, $past, $order, [$($sql)* $next] [$($rest)*])
    };
}
pub(crate) use fetch_keyset_page;
