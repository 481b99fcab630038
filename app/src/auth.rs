//! Passwords and sign-in sessions (server only).
//!
//! Sessions are tower-sessions records in PostgreSQL; the cookie holds only a random id, so
//! any server process can serve any request and signing out ends the session everywhere.

use crate::domain::Password;
use crate::error::AppError;
use crate::model::Flash;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::OnceLock;
use tower_sessions::Session;

const USER_ID_KEY: &str = "user_id";
const FLASH_KEY: &str = "flash";

fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store failed");
    AppError::Unavailable
}

/// Argon2id with OWASP's second recommended setting (12 MiB, 3 passes, 1 lane), which it rates
/// as strong as the crate's default (19 MiB, 2 passes) but needs a third less memory per
/// check; memory is what a burst of sign-ins costs the server. Hashes record their own
/// parameters, so hashes made with other settings still verify.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(12 * 1024, 3, 1, None).expect("constant parameters are valid");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// Each Argon2 computation takes 12 MiB and tens of milliseconds of CPU: a burst of sign-ins
/// waits its turn here rather than piling up memory and starving page rendering.
static HASHING_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

async fn hashing_slot() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    HASHING_SLOTS
        .acquire()
        .await
        .map_err(|_| AppError::Internal)
}

/// Hashes with `argon2()` on the blocking pool, never on an async worker.
pub async fn hash_password(password: Password) -> Result<String, AppError> {
    let _slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "password hashing task failed");
        AppError::Internal
    })?
    .map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        AppError::Internal
    })
}

/// Checks `password` against `stored_hash`. Without a stored hash (unknown user) it checks
/// against a throwaway hash, so a wrong username takes as long as a wrong password and timing
/// does not reveal who has an account.
pub async fn verify_password(password: String, stored_hash: Option<String>) -> bool {
    static DECOY_HASH: OnceLock<String> = OnceLock::new();
    let Ok(_slot) = hashing_slot().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let hash = stored_hash.unwrap_or_else(|| {
            DECOY_HASH
                .get_or_init(|| {
                    let salt = SaltString::generate(&mut OsRng);
                    argon2()
                        .hash_password(b"decoy password", &salt)
                        .map(|hash| hash.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// The session of the request being served.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|error| {
        tracing::error!(?error, "no session layer on this request");
        AppError::Internal
    })
}

pub async fn signed_in_user_id(session: &Session) -> Result<Option<i64>, AppError> {
    session.get::<i64>(USER_ID_KEY).await.map_err(session_error)
}

/// The signed-in user's id, or 401.
pub async fn require_user_id(session: &Session) -> Result<i64, AppError> {
    signed_in_user_id(session)
        .await?
        .ok_or_else(AppError::sign_in_required)
}

/// Starts a signed-in session under a new id, so an id planted before sign-in is worthless.
pub async fn sign_in(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_error)
}

/// Deletes the session record, so the old cookie no longer signs anyone in.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// Keeps a one-time message for the next page: how a form posted without JavaScript learns
/// what happened after its redirect.
pub async fn set_flash(session: &Session, message: String, is_error: bool) -> Result<(), AppError> {
    session
        .insert(FLASH_KEY, Flash { message, is_error })
        .await
        .map_err(session_error)
}

pub async fn take_flash(session: &Session) -> Result<Option<Flash>, AppError> {
    // Removing marks the session modified, and a modified session is written back to the
    // database: only remove when there is something to take, so page views stay read-only.
    let flash = session
        .get::<Flash>(FLASH_KEY)
        .await
        .map_err(session_error)?;
    if flash.is_some() {
        session
            .remove::<Flash>(FLASH_KEY)
            .await
            .map_err(session_error)?;
    }
    Ok(flash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_hashing_round_trips_and_rejects_others() {
        // The tutorial's test_password_hashing.
        let hash = hash_password(Password::parse("cat-and-mouse").unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
            "argon2id with 12 MiB and 3 passes, got {hash}"
        );
        assert!(!hash.contains("cat-and-mouse"));
        assert!(verify_password("cat-and-mouse".into(), Some(hash.clone())).await);
        assert!(!verify_password("dog-and-mouse".into(), Some(hash)).await);
    }

    #[tokio::test]
    async fn hashes_made_with_the_crate_defaults_still_verify() {
        let salt = SaltString::generate(&mut OsRng);
        let older = Argon2::default()
            .hash_password(b"cat-and-mouse", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("cat-and-mouse".into(), Some(older)).await);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify_password("anything".into(), None).await);
    }
}
