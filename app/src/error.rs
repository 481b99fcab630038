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
    /// Well-formed, but past a limit the person can see (the most people one may follow).
    #[error("{0}")]
    Unprocessable(String),
    /// Too many attempts (sign-ins, say); the person may try again after `retry_after_seconds`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_seconds: u64,
    },
    #[error("Too many people are signing in right now. Please try again in a moment.")]
    Busy,
    #[error("The service is unavailable right now. Please try again in a moment.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    pub fn sign_in_required() -> Self {
        AppError::Unauthorized("Please sign in to do that.".into())
    }

    /// The signed-in account was deleted while its session lived on.
    pub fn account_gone() -> Self {
        AppError::Unauthorized("Your account no longer exists.".into())
    }

    pub fn cannot_follow_self() -> Self {
        AppError::BadRequest("You cannot follow yourself!".into())
    }

    pub fn cannot_unfollow_self() -> Self {
        AppError::BadRequest("You cannot unfollow yourself!".into())
    }

    pub fn too_many_follow_changes(retry_after_seconds: u64) -> Self {
        AppError::TooManyRequests {
            message: format!(
                "You are following and unfollowing too quickly. Please wait {retry_after_seconds} second{} and try again.",
                if retry_after_seconds == 1 { "" } else { "s" }
            ),
            retry_after_seconds,
        }
    }

    pub fn following_cap(cap: i64) -> Self {
        AppError::Unprocessable(format!(
            "You cannot follow more than {cap} people. Unfollow someone first."
        ))
    }

    pub fn username_taken() -> Self {
        AppError::Conflict("That username is taken. Please use a different one.".into())
    }

    pub fn email_registered() -> Self {
        AppError::Conflict("That email address is already registered.".into())
    }

    /// A name no account can have (markup from a crafted link, say) is not repeated back.
    pub fn user_not_found(username: &str) -> Self {
        if crate::domain::could_be_username(username) {
            AppError::NotFound(format!("User {username} not found."))
        } else {
            AppError::NotFound("There is no user by that name.".into())
        }
    }

    /// How long to wait before trying again, for the `Retry-After` header of a 429 or 503.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            AppError::Busy => Some(2),
            AppError::Unavailable => Some(1),
            _ => None,
        }
    }

    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Unprocessable(_) => 422,
            AppError::TooManyRequests { .. } => 429,
            AppError::Busy | AppError::Unavailable => 503,
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
                let error = AppError::BadRequest(
                    "The request was malformed: some fields are missing or invalid.".into(),
                );
                #[cfg(feature = "ssr")]
                error.set_response_status();
                error
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
        // A statement cancelled by `statement_timeout` (57014) means the database is too busy
        // to answer in time: also worth trying again.
        let database_away =
            sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate == "57014";
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

#[cfg(feature = "ssr")]
impl AppError {
    /// Sets this error's status on the response being built, with `Retry-After` when waiting
    /// helps (429, 503).
    pub fn set_response_status(&self) {
        use http::{HeaderValue, StatusCode, header};
        let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        if let Ok(status) = StatusCode::from_u16(self.status_code()) {
            response.set_status(status);
        }
        if let Some(seconds) = self.retry_after_seconds() {
            response.insert_header(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
}
