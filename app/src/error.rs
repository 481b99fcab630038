//! The one error type every server function returns.
//!
//! Variants below `Internal` are things a person can act on and carry a message meant for them;
//! `Internal` never carries detail: the server logs the cause once and the browser gets a
//! generic sentence.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("The service is unavailable right now. Please try again in a moment.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    pub fn sign_in_required() -> Self {
        AppError::Unauthorized("Please sign in to do that.".into())
    }

    pub fn user_not_found(username: &str) -> Self {
        AppError::NotFound(format!("User {username} not found."))
    }

    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Unavailable => 503,
            AppError::Internal => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Errors raised by the server-function machinery itself. On the server they mean the
    /// request could not be decoded (missing or malformed fields), which is the client's
    /// fault; in the browser they mean the request never got an answer.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => {
                #[cfg(feature = "ssr")]
                crate::respond::set_status(400);
                AppError::BadRequest(
                    "The request was malformed: some fields are missing or invalid.".into(),
                )
            }
            ServerFnErrorErr::Request(_) => AppError::Unavailable,
            _ => AppError::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        let sqlstate = error.as_database_error().and_then(|e| e.code());
        let sqlstate = sqlstate.as_deref().unwrap_or_default();
        // Text PostgreSQL cannot store (a NUL byte, say): the input's fault, not ours.
        if matches!(sqlstate, "22021" | "22P05") {
            return AppError::BadRequest(
                "The text contains characters that cannot be stored.".into(),
            );
        }
        // The database went away (SQLSTATE class 08) or is shutting down or starting up
        // (57P01–57P03): a passing outage, not a bug, and the pool reconnects by itself.
        let database_away = sqlstate.starts_with("08") || sqlstate.starts_with("57P");
        let unreachable = matches!(
            error,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
        );
        if database_away || unreachable {
            tracing::error!(%error, "database unavailable");
            AppError::Unavailable
        } else {
            tracing::error!(%error, "database error");
            AppError::Internal
        }
    }
}
