//! Everything a request needs from the server, provided as context to server functions.

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
    pub sign_in_throttle: Arc<SignInThrottle>,
    /// Every follow and unfollow of this process goes through it, to be made in batches.
    pub follows: FollowQueue,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server-function context");
        AppError::Internal
    })
}

/// The pool of the running app, from inside a server function.
pub fn pool() -> Result<PgPool, AppError> {
    app_state().map(|state| state.pool)
}

pub fn follow_queue() -> Result<FollowQueue, AppError> {
    app_state().map(|state| state.follows)
}

pub fn replicas() -> Result<Arc<Replicas>, AppError> {
    app_state().map(|state| state.replicas)
}

pub fn sign_in_throttle() -> Result<Arc<SignInThrottle>, AppError> {
    app_state().map(|state| state.sign_in_throttle)
}

/// The address of the client of the request being served, when the server recorded it.
pub fn client_address() -> Option<IpAddr> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}
