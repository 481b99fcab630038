//! How a server function's result becomes an HTTP response (server only).
//!
//! Called from JavaScript, an error keeps its status code (404, 400, 401…) and the page shows
//! it. Posted by a plain `<form>` (no JavaScript yet, or none at all), the browser expects a
//! page: the outcome is kept as a flash message and the browser is sent back with 303 See
//! Other, so reloading never re-submits.

use crate::auth::{session, set_flash};
use crate::domain::safe_next_path;
use crate::error::AppError;
use http::{HeaderValue, StatusCode, header, request::Parts};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

pub fn set_status(code: u16) {
    if let (Some(response), Ok(status)) =
        (use_context::<ResponseOptions>(), StatusCode::from_u16(code))
    {
        response.set_status(status);
    }
}

fn request_parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// A form submitted by the browser itself rather than by the hydrated app.
pub fn is_plain_form_post() -> bool {
    request_parts()
        .and_then(|parts| parts.headers.get(header::ACCEPT).cloned())
        .and_then(|accept| accept.to_str().ok().map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

/// The path of the page the request came from, if it is on this site.
fn referring_path() -> String {
    let referer = request_parts()
        .and_then(|parts| parts.headers.get(header::REFERER).cloned())
        .and_then(|value| value.to_str().ok().map(str::to_owned))
        .and_then(|value| value.parse::<http::Uri>().ok())
        .and_then(|uri| uri.path_and_query().map(|pq| pq.as_str().to_owned()));
    safe_next_path(referer.as_deref())
}

fn see_other(path: &str) {
    if let (Some(response), Ok(location)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(path),
    ) {
        response.set_status(StatusCode::SEE_OTHER);
        response.insert_header(header::LOCATION, location);
    }
}

/// Finishes a state-changing server function. `message` is the outcome to show on success;
/// `go_to` is where to send the person on success (default: back where they came from).
pub async fn finish<T>(
    result: Result<T, AppError>,
    message: impl FnOnce(&T) -> Option<String>,
    go_to: Option<String>,
) -> Result<T, AppError> {
    if is_plain_form_post() {
        let (flash, back_to) = match &result {
            Ok(value) => (message(value).map(|m| (m, false)), go_to),
            Err(error) => (Some((error.to_string(), true)), None),
        };
        // Losing a flash message only loses a notice; the action itself already happened.
        if let Some((text, is_error)) = flash
            && let Ok(session) = session().await
        {
            let _ = set_flash(&session, text, is_error).await;
        }
        see_other(&back_to.unwrap_or_else(referring_path));
        return result;
    }
    match &result {
        Ok(_) => {
            if let Some(path) = go_to {
                leptos_axum::redirect(&path);
            }
        }
        Err(error) => set_status(error.status_code()),
    }
    result
}

/// For reads: an error keeps its status code.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        set_status(error.status_code());
    }
    result
}
