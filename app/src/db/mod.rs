//! All SQL of Microblog. Functions take the pool (or a connection) explicitly and return
//! `AppError`s whose 4xx variants carry messages fit for people.

pub mod follow_queue;
pub mod follows;
pub mod limits;
pub mod live;
pub mod page_stamps;
pub mod posts;
pub mod replicas;
pub mod sessions;
#[cfg(feature = "bench")]
pub mod tutorial;
pub mod users;

use crate::error::AppError;
use sqlx::PgPool;

/// Applies Microblog's migrations (the session store's table among them).
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    sqlx::migrate!("../migrations")
        .run(pool)
        .await
        .map_err(MigrateError::Schema)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("applying the schema migrations failed: {0}")]
    Schema(#[source] sqlx::migrate::MigrateError),
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
