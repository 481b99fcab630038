//! The session store (server only): tower-sessions records in the `sessions` table.
//!
//! tower-sessions saves a changed session whole at the end of its request. With an upsert, a
//! request that loaded a session before it was signed out (deleted) or replaced (a sign-in
//! cycles the id) wrote it back when it finished, and the old cookie was signed in again. Here
//! only `create` inserts, and `save` only updates a record that still exists for the same
//! person: a record that is gone stays gone. Of what a session holds, two values are columns
//! so that SQL can read them and a save can merge them: who is signed in (`USER_ID_KEY`, fixed
//! for the record's life) and the log position of their last change (`LAST_CHANGE_KEY`), which
//! a save only moves forward, so two overlapping requests cannot put an older one back.

use crate::db::replicas::WalPosition;
use crate::model::UserId;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashMap;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// The session key naming the signed-in user.
pub const USER_ID_KEY: &str = "user_id";
/// The session key holding the position of the person's last change (`db::replicas`).
pub const LAST_CHANGE_KEY: &str = "last_change_at";

#[derive(Clone, Debug)]
pub struct PostgresSessions {
    pool: PgPool,
}

impl PostgresSessions {
    pub fn new(pool: PgPool) -> Self {
        PostgresSessions { pool }
    }
}

/// A record split into what the table keeps in columns and the rest.
struct Stored {
    user_id: Option<i64>,
    last_change: Option<WalPosition>,
    data: Value,
}

fn split(record: &Record) -> session_store::Result<Stored> {
    let mut data = record.data.clone();
    let user_id = take_as::<UserId>(&mut data, USER_ID_KEY)?.map(UserId::get);
    let last_change = take_as::<WalPosition>(&mut data, LAST_CHANGE_KEY)?;
    let data = serde_json::to_value(data).map_err(encode_error)?;
    Ok(Stored {
        user_id,
        last_change,
        data,
    })
}

fn take_as<T: serde::de::DeserializeOwned>(
    data: &mut HashMap<String, Value>,
    key: &str,
) -> session_store::Result<Option<T>> {
    data.remove(key)
        .map(serde_json::from_value)
        .transpose()
        .map_err(encode_error)
}

fn encode_error(error: serde_json::Error) -> session_store::Error {
    session_store::Error::Encode(error.to_string())
}

fn backend_error(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[async_trait::async_trait]
impl SessionStore for PostgresSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let stored = split(record)?;
        // A fresh id is 128 random bits; a collision is retried rather than overwritten.
        loop {
            let inserted = sqlx::query!(
                "INSERT INTO sessions (id, user_id, last_change, data, expires_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                record.id.to_string(),
                stored.user_id,
                stored.last_change,
                stored.data,
                record.expiry_date,
            )
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates the record if it still exists for the same person; otherwise does nothing. The
    /// log position only moves forward (`i64::MAX`, "unknown", gives way to any known one and
    /// takes the place of a known one), and the expiry only later.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let stored = split(record)?;
        sqlx::query!(
            "UPDATE sessions SET
                 data = $3,
                 expires_at = greatest(expires_at, $4),
                 last_change = CASE
                     WHEN $5::bigint IS NULL THEN last_change
                     WHEN last_change IS NULL OR last_change = $6 THEN $5
                     WHEN $5 = $6 THEN $6
                     ELSE greatest(last_change, $5)
                 END
             WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2",
            record.id.to_string(),
            stored.user_id,
            stored.data,
            record.expiry_date,
            stored.last_change,
            WalPosition::MAX,
        )
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query!(
            r#"SELECT user_id, last_change, data, expires_at FROM sessions
               WHERE id = $1 AND expires_at > now()"#,
            id.to_string(),
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut data: HashMap<String, Value> = serde_json::from_value(row.data)
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;
        if let Some(user_id) = row.user_id {
            data.insert(USER_ID_KEY.to_owned(), Value::from(user_id));
        }
        if let Some(position) = row.last_change {
            data.insert(LAST_CHANGE_KEY.to_owned(), Value::from(position));
        }
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date: row.expires_at,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("DELETE FROM sessions WHERE id = $1", id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}

/// Whether session `key` is still signed in as `user` (the live feed checks its streams with
/// it after it may have missed a sign-out).
pub async fn is_signed_in(pool: &PgPool, key: &str, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sessions
                          WHERE id = $1 AND user_id = $2 AND expires_at > now()) AS "signed_in!""#,
        key,
        user.get(),
    )
    .fetch_one(pool)
    .await
}

/// Deletes what has run out: expired sessions (refused when read anyway), limits whose bucket
/// is full again and leases of streams whose process died. Only keeps the tables small.
pub async fn sweep_expired(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM sessions WHERE expires_at < now()")
        .execute(pool)
        .await?;
    sqlx::query!("DELETE FROM rate_limits WHERE tat < now()")
        .execute(pool)
        .await?;
    sqlx::query!("DELETE FROM live_streams WHERE lease_until < now()")
        .execute(pool)
        .await?;
    Ok(())
}

/// Runs `sweep_expired` every `every`, for the life of the process.
pub async fn keep_sweeping(pool: PgPool, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        if let Err(error) = sweep_expired(&pool).await {
            tracing::warn!(%error, "sweeping expired sessions and limits failed");
        }
    }
}
