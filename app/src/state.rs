//! Everything a request needs from the server, provided as context to server functions.

use crate::auth::SignedInSessions;
use crate::db::follow_queue::FollowQueue;
use crate::db::replicas::Replicas;
use crate::error::AppError;
use crate::throttle::SignInThrottle;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The primary: every write, and reads that must see everything.
    pub pool: PgPool,
    /// Streaming replicas for reads (`db::replicas`); empty unless configured.
    pub replicas: Arc<Replicas>,
    /// Shared by every request of this process; see `throttle`.
    pub sign_in_throttle: SignInThrottle,
    /// Sessions this process has seen signed in, for follows (`auth::SignedInSessions`).
    pub signed_in_sessions: Arc<SignedInSessions>,
    /// Every follow and unfollow of this process goes through it, to be made in batches.
    pub follows: FollowQueue,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// One part of the state, cloned on its own: every server function takes two or three, and
/// cloning the whole state for each also cloned `LeptosOptions`.
fn from_app_state<T>(part: impl FnOnce(&AppState) -> T) -> Result<T, AppError> {
    leptos::prelude::with_context::<AppState, _>(part).ok_or_else(|| {
        tracing::error!("AppState missing from the server-function context");
        AppError::Internal
    })
}

/// The pool of the running app, from inside a server function.
pub fn pool() -> Result<PgPool, AppError> {
    from_app_state(|state| state.pool.clone())
}

pub fn follow_queue() -> Result<FollowQueue, AppError> {
    from_app_state(|state| state.follows.clone())
}

pub fn replicas() -> Result<Arc<Replicas>, AppError> {
    from_app_state(|state| state.replicas.clone())
}

pub fn sign_in_throttle() -> Result<SignInThrottle, AppError> {
    from_app_state(|state| state.sign_in_throttle)
}

pub fn signed_in_sessions() -> Result<Arc<SignedInSessions>, AppError> {
    from_app_state(|state| state.signed_in_sessions.clone())
}

/// The address of the client of the request being served, when the server recorded it.
pub fn client_address() -> Option<IpAddr> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}
