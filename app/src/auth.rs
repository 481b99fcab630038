//! Passwords and sign-in sessions (server only).
//!
//! Sessions are tower-sessions records in PostgreSQL (`db::sessions`, a store that never
//! writes back a record that was deleted or replaced); the cookie holds only a random id, so
//! any server process can serve any request and signing out ends the session everywhere.
//! A follow or unfollow skips loading its session when a follow in this process has loaded it
//! before, and checks it in the statement that makes the change instead (`SessionClaim`).

use crate::db::replicas::WalPosition;
use crate::domain::Password;
use crate::error::AppError;
use crate::model::UserId;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tower_sessions::Session;
use tower_sessions::session::Id;

use crate::db::sessions::{LAST_CHANGE_KEY, USER_ID_KEY};
/// The day (since 1970) the session's expiry was last pushed back; see `signed_in_user_id`.
const RENEWED_ON_DAY_KEY: &str = "renewed_on_day";

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

/// How long a sign-in waits for a slot before it is told to come back. Without a bound, 5,000
/// sign-ins sent and abandoned kept real ones waiting for minutes; with it, a flood costs a
/// real person a quick 503 and is over seconds after it stops.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn hashing_slot() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(HASHING_WAIT, HASHING_SLOTS.acquire()).await {
        Ok(Ok(slot)) => Ok(slot),
        Ok(Err(_closed)) => Err(AppError::Internal),
        Err(_elapsed) => {
            tracing::warn!("password checks are saturated; answering busy");
            Err(AppError::Busy)
        }
    }
}

/// Hashes with `argon2()` on the blocking pool, never on an async worker.
pub async fn hash_password(password: Password) -> Result<String, AppError> {
    let _slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.expose().as_bytes())
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
pub async fn verify_password(
    password: String,
    stored_hash: Option<String>,
) -> Result<bool, AppError> {
    static DECOY_HASH: OnceLock<String> = OnceLock::new();
    let _slot = hashing_slot().await?;
    let matches = tokio::task::spawn_blocking(move || {
        let hash = stored_hash.unwrap_or_else(|| {
            DECOY_HASH
                .get_or_init(|| {
                    argon2()
                        .hash_password(b"decoy password")
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
    .unwrap_or(false);
    Ok(matches)
}

/// The session of the request being served.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|error| {
        tracing::error!(?error, "no session layer on this request");
        AppError::Internal
    })
}

/// Who is signed in. It also keeps an active person signed in: a session expires after 30 days
/// without a write, and page views write nothing, so once a day a signed-in request records the
/// day, which makes tower-sessions save the session with a fresh expiry and resend the cookie.
/// One write a day per active person, rather than one per request.
pub async fn signed_in_user_id(session: &Session) -> Result<Option<UserId>, AppError> {
    let Some(user_id) = session
        .get::<UserId>(USER_ID_KEY)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    let today = days_since_epoch();
    let renewed_on = session
        .get::<i64>(RENEWED_ON_DAY_KEY)
        .await
        .map_err(session_error)?;
    if renewed_on != Some(today) {
        session
            .insert(RENEWED_ON_DAY_KEY, today)
            .await
            .map_err(session_error)?;
    }
    Ok(Some(user_id))
}

fn days_since_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp() / 86_400
}

/// Where the primary's log ended after this person's last change (`db::replicas`), so their
/// reads, on whichever server process, never come from a replica that has not replayed it.
pub async fn last_change(session: &Session) -> Result<Option<WalPosition>, AppError> {
    session
        .get::<WalPosition>(LAST_CHANGE_KEY)
        .await
        .map_err(session_error)
}

/// Records a signed-in person's change at `position`. Nothing is kept for someone signed out:
/// a sign-out has just emptied the session, and a visitor's reads may be any replica's.
pub async fn remember_change(session: &Session, position: WalPosition) -> Result<(), AppError> {
    if session
        .get::<UserId>(USER_ID_KEY)
        .await
        .map_err(session_error)?
        .is_none()
    {
        return Ok(());
    }
    // `MAX` stands for "unknown, read from the primary" (`api::remember_change`): a position
    // read later replaces it.
    let newest = match last_change(session).await? {
        Some(WalPosition::MAX) | None => position,
        Some(known) => known.max(position),
    };
    session
        .insert(LAST_CHANGE_KEY, newest)
        .await
        .map_err(session_error)
}

/// Who a request's session says is signed in, taken on the word of an earlier request in this
/// process that loaded the same session, without loading it again. Only statements that check
/// the session themselves take one (`db::follows::Actor::Claimed`, through `api::Request::
/// claimed`, which forgets a claim they refuse): a sign-out through any
/// process deletes the session's record, so from then on the claim is refused at once.
///
/// Loading the session was a statement and a round trip of its own in every follow, and a
/// sixth of the server's time there; the check inside the change costs one index probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionClaim {
    pub session: Id,
    pub user_id: UserId,
}

impl SessionClaim {
    /// The session's id as the session store keys its record.
    pub fn session_key(&self) -> String {
        self.session.to_string()
    }
}

impl From<&SessionClaim> for crate::db::follows::Actor {
    fn from(claim: &SessionClaim) -> Self {
        crate::db::follows::Actor::Claimed {
            user: claim.user_id,
            session_key: claim.session_key(),
        }
    }
}

/// Sessions a follow in this process has loaded and found signed in (page views do not touch
/// this map, so they take no lock for it). A session's user never changes under the same
/// id (signing in starts a new id, signing out deletes the record, and the store never writes
/// a deleted record back), so an entry is never wrong, only possibly ended, which every
/// statement using it finds out (and then forgets it). One per process, in `AppState`.
#[derive(Debug, Default)]
pub struct SignedInSessions {
    seen: Mutex<HashMap<Id, UserId>>,
}

/// Past this many, the sessions seen are forgotten all at once: a forgotten one only costs its
/// next follow a load, and 100,000 entries take about 4 MB.
const SIGNED_IN_SESSIONS_KEPT: usize = 100_000;

impl SignedInSessions {
    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<Id, UserId>> {
        // A panic while holding the lock cannot leave the map half-changed.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The claim of this request's session, if a follow in this process has loaded it before.
    pub fn known_claim(&self, session: &Session) -> Option<SessionClaim> {
        let session_id = session.id()?;
        let user_id = *self.seen().get(&session_id)?;
        Some(SessionClaim {
            session: session_id,
            user_id,
        })
    }

    /// The claim of a session just loaded and found signed in as `user_id`, kept for the
    /// session's next follows.
    pub fn remember_claim(&self, session: &Session, user_id: UserId) -> Option<SessionClaim> {
        let claim = SessionClaim {
            session: session.id()?,
            user_id,
        };
        let mut seen = self.seen();
        if seen.len() >= SIGNED_IN_SESSIONS_KEPT && !seen.contains_key(&claim.session) {
            seen.clear();
        }
        seen.insert(claim.session, user_id);
        Some(claim)
    }

    /// Forgets a claim its statement refused: that session has ended.
    pub fn forget_claim(&self, claim: &SessionClaim) {
        self.seen().remove(&claim.session);
    }

    fn forget_session(&self, session: &Session) {
        if let Some(id) = session.id() {
            self.seen().remove(&id);
        }
    }
}

/// Starts a signed-in session under a new id, so an id planted before sign-in is worthless.
pub async fn sign_in(session: &Session, user_id: UserId) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(RENEWED_ON_DAY_KEY, days_since_epoch())
        .await
        .map_err(session_error)?;
    session
        .insert(USER_ID_KEY, user_id)
        .await
        .map_err(session_error)
}

/// Deletes the session record, so the old cookie no longer signs anyone in, whatever answers
/// of requests that loaded it earlier arrive afterwards (`db::sessions`).
pub async fn sign_out(seen: &SignedInSessions, session: &Session) -> Result<(), AppError> {
    seen.forget_session(session);
    session.flush().await.map_err(session_error)
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
        assert_eq!(
            verify_password("cat-and-mouse".into(), Some(hash.clone())).await,
            Ok(true)
        );
        assert_eq!(
            verify_password("dog-and-mouse".into(), Some(hash)).await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn hashes_stored_before_still_verify() {
        // Stored hashes outlive the code that made them: one this app made with argon2 0.5 at
        // sign-up, and one made elsewhere (argon2-cffi) with Argon2's default parameters
        // (m=19456, t=2), as an imported account would carry.
        for (stored, password) in [
            (
                "$argon2id$v=19$m=12288,t=3,p=1$tnaQa88BQSrdBu2Ley52kQ$4GTtf0Tgfx9cxfFQmgvBgb3VnpSGCQdlUnUklCGfL5A",
                "correct horse",
            ),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$rEAg9sOjFIqoXznSaOugQw$mrs08cR7hzjNOv5h6mDJjPbiNBgnbOV/zk9aet2vX4M",
                "cat-and-mouse",
            ),
        ] {
            assert_eq!(
                verify_password(password.into(), Some(stored.to_owned())).await,
                Ok(true),
                "{stored}"
            );
            assert_eq!(
                verify_password(format!("{password}!"), Some(stored.to_owned())).await,
                Ok(false),
                "{stored}"
            );
        }
    }

    #[tokio::test]
    async fn a_session_is_claimed_once_a_follow_loaded_it_and_no_longer_once_signed_out() {
        use tower_sessions::MemoryStore;
        let store = std::sync::Arc::new(MemoryStore::default());
        let seen = SignedInSessions::default();
        let signing_in = Session::new(None, store.clone(), None);
        signing_in
            .insert(USER_ID_KEY, UserId::new(7))
            .await
            .unwrap();
        signing_in.save().await.unwrap();
        let id = signing_in.id().unwrap();

        let page_view = Session::new(Some(id), store.clone(), None);
        assert_eq!(
            signed_in_user_id(&page_view).await.unwrap(),
            Some(UserId::new(7))
        );
        assert_eq!(
            seen.known_claim(&page_view),
            None,
            "a page view claims nothing"
        );

        let first_follow = Session::new(Some(id), store.clone(), None);
        let claim = seen.remember_claim(&first_follow, UserId::new(7)).unwrap();
        assert_eq!(
            claim,
            SessionClaim {
                session: id,
                user_id: UserId::new(7),
            }
        );
        assert_eq!(claim.session_key(), id.to_string());
        let next_follow = Session::new(Some(id), store.clone(), None);
        assert_eq!(seen.known_claim(&next_follow), Some(claim));

        let someone_else = Session::new(Some(Id(id.0.wrapping_add(1))), store.clone(), None);
        assert_eq!(seen.known_claim(&someone_else), None, "an id never seen");
        assert_eq!(
            seen.remember_claim(&Session::new(None, store.clone(), None), UserId::new(7)),
            None,
            "no id, no claim"
        );

        seen.forget_claim(&claim);
        assert_eq!(
            seen.known_claim(&next_follow),
            None,
            "refused once, forgotten"
        );
        seen.remember_claim(&next_follow, UserId::new(7));
        sign_out(&seen, &next_follow).await.unwrap();
        assert_eq!(
            seen.known_claim(&Session::new(Some(id), store, None)),
            None,
            "signed out here"
        );
    }

    #[tokio::test]
    async fn a_signed_in_session_is_written_again_once_a_day_and_not_more() {
        use std::sync::Arc;
        use tower_sessions::MemoryStore;
        let store = Arc::new(MemoryStore::default());
        let session = Session::new(None, store.clone(), None);
        session.insert(USER_ID_KEY, UserId::new(7)).await.unwrap();
        session
            .insert(RENEWED_ON_DAY_KEY, days_since_epoch() - 3)
            .await
            .unwrap();
        session.save().await.unwrap();
        let id = session.id().unwrap();

        let three_days_later = Session::new(Some(id), store.clone(), None);
        assert_eq!(
            signed_in_user_id(&three_days_later).await,
            Ok(Some(UserId::new(7)))
        );
        assert!(
            three_days_later.is_modified(),
            "renewed, so its expiry moves"
        );
        three_days_later.save().await.unwrap();

        let same_day = Session::new(Some(id), store, None);
        assert_eq!(signed_in_user_id(&same_day).await, Ok(Some(UserId::new(7))));
        assert!(
            !same_day.is_modified(),
            "one write a day, not one a request"
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert_eq!(verify_password("anything".into(), None).await, Ok(false));
    }
}
