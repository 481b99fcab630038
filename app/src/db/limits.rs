//! Limits counted in PostgreSQL, so they hold for the whole site however many server processes
//! serve it (`r.take_rate_limit`, `db/logic/limits.sql`).

use sqlx::PgPool;
use sqlx::postgres::types::PgInterval;
use std::time::Duration;

/// A burst of `burst` uses at once, then one more every `per_use`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub burst: u32,
    pub per_use: Duration,
}

impl Quota {
    /// `burst` uses at once and, after them, `burst` more each `period`.
    pub fn per(burst: u32, period: Duration) -> Self {
        Quota {
            burst,
            per_use: period / burst.max(1),
        }
    }
}

/// Counts one use of `key`: `None` when it is allowed, or how long until it would be (a
/// refused use is not counted).
pub async fn take(pool: &PgPool, key: &str, quota: Quota) -> Result<Option<Duration>, sqlx::Error> {
    let wait = sqlx::query_scalar!(
        "SELECT r.take_rate_limit($1, $2, $3)",
        key,
        interval(quota.per_use),
        i32::try_from(quota.burst.max(1)).unwrap_or(i32::MAX),
    )
    .fetch_one(pool)
    .await?;
    Ok(wait.map(|wait| {
        Duration::from_micros(u64::try_from(wait.microseconds).unwrap_or(0))
            + Duration::from_secs(u64::try_from(wait.days).unwrap_or(0) * 86_400)
    }))
}

/// `duration` as PostgreSQL's interval, in microseconds.
pub fn interval(duration: Duration) -> PgInterval {
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(duration.as_micros()).unwrap_or(i64::MAX),
    }
}

/// Whole seconds to wait, rounded up and at least one, as `Retry-After` and people read them.
pub fn seconds_to_wait(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}
