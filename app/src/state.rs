//! Everything a request needs from the server, provided as context to server functions.

use leptos::config::LeptosOptions;
use sqlx::PgPool;

#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The pool of the running app, from inside a server function.
pub fn pool() -> Result<PgPool, crate::error::AppError> {
    leptos::prelude::use_context::<AppState>()
        .map(|state| state.pool)
        .ok_or_else(|| {
            tracing::error!("AppState missing from the server-function context");
            crate::error::AppError::Internal
        })
}
