//! How a server function's result becomes an HTTP response (server only).
//!
//! Called from JavaScript, an error keeps its status code (404, 400, 401…) and the page shows
//! it. Posted by a plain `<form>` (no JavaScript yet, or none at all), the browser expects a
//! page: the outcome is kept as a flash message and the browser is sent back with 303 See
//! Other, so reloading never re-submits.

use crate::domain::safe_next_path;
use crate::error::AppError;
use crate::flash;
use http::{HeaderValue, StatusCode, header, request::Parts};
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

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

/// Sends the browser to `path` with a real 303, whatever its Accept header says. Pages use it
/// through `<Redirect>` (see `provide_page_redirect`); leptos_axum's own version answers 200
/// with a `Location` that no browser follows unless the request's Accept names text/html, which
/// left a visitor without JavaScript on a blank page.
pub fn see_other(path: &str) {
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
        if let Some((message, is_error)) = flash {
            flash::keep_for_next_page(crate::model::Flash { message, is_error });
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
        Err(error) => error.set_response_status(),
    }
    result
}

/// For reads: an error keeps its status code.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        error.set_response_status();
    }
    result
}

/// Makes every `<Redirect>` rendered on the server a real 303 (see `see_other`). Call it in the
/// context of each page render.
pub fn provide_page_redirect() {
    leptos_router::components::provide_server_redirect(see_other);
}

/// The Content-Security-Policy of a rendered page: inline scripts only with this response's
/// nonce (which Leptos puts on its hydration and resource scripts), script files only from this
/// site, and the wasm they load. Had any request text ever become markup, the browser would
/// still refuse to run it.
///
/// `'self'` is there because Leptos 0.8 writes the nonce of its `modulepreload` link into the
/// link's `crossorigin` attribute instead of `nonce`, so a nonce-only policy blocks the preload
/// of our own JS file (a console error on every page). Script files from this site are only the
/// bundle: every other response is JSON, HTML or text sent with `nosniff`, which browsers refuse
/// to run as script.
pub fn send_content_security_policy(options: &LeptosOptions) {
    let (Some(response), Some(nonce)) =
        (use_context::<ResponseOptions>(), leptos::nonce::use_nonce())
    else {
        return;
    };
    // `cargo leptos watch` reloads the page through a websocket on its own port.
    let reload = match options.env {
        Env::DEV => format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port),
        Env::PROD => String::new(),
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{reload}; form-action 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Headers a page's render sends the page cache (server/src/page_cache/), which removes them
/// from every response: each part of a page that is fit to be served again says until when
/// (the page is kept until the earliest), and any part that is not says so.
pub const CACHEABLE_UNTIL_HEADER: &str = "x-microblog-cacheable-until";
/// Sent by any part of a page that showed less than it should (a box left out after an
/// error), or that read from a replica: that page is not kept, whatever else says.
pub const NOT_CACHEABLE_HEADER: &str = "x-microblog-not-cacheable";

/// Declares the part of the page being rendered fit to be served again until `until`, once
/// what it shows is checked to be unchanged (see the page cache); its relative times must not
/// change before.
pub fn page_cacheable_until(until: time::OffsetDateTime) {
    let millis = until.unix_timestamp_nanos() / 1_000_000;
    if let Some(response) = use_context::<ResponseOptions>()
        && let Ok(value) = HeaderValue::from_str(&millis.to_string())
    {
        response.append_header(
            header::HeaderName::from_static(CACHEABLE_UNTIL_HEADER),
            value,
        );
    }
}

/// Until when relative times ("5 minutes ago") of the moments `shown` all read as they did at
/// `now`, and a minute at most: what the page cache does not check (a Who to follow ranking
/// past its lifetime, a row edited by hand) is then never older than that.
pub fn relative_times_unchanged_until(
    shown: impl IntoIterator<Item = time::OffsetDateTime>,
    now: time::OffsetDateTime,
) -> time::OffsetDateTime {
    use crate::present::relative_time_unchanged_until;
    shown
        .into_iter()
        .map(|at| relative_time_unchanged_until(at, now))
        .fold(now + time::Duration::MINUTE, std::cmp::min)
}

/// Keeps the page being rendered from being served again.
pub fn page_not_cacheable() {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.insert_header(
            header::HeaderName::from_static(NOT_CACHEABLE_HEADER),
            HeaderValue::from_static("1"),
        );
    }
}
