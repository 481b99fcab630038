//! Requests the app never sends are refused before any work is done for them.
//!
//! - Methods: pages are read with GET (and HEAD), every change is a POST. Anything else is a
//!   405 naming the methods that are served. `CONNECT` used to reach the page renderer, whose
//!   request has no path, and panicked into a 500.
//! - Bodies: the app posts `application/x-www-form-urlencoded` only, from its forms and from its
//!   server-function client alike. Another content type is a 415, so a `text/plain` POST, which
//!   a foreign page can send without a CORS preflight, is never parsed as a form.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const SERVED_METHODS: &str = "GET, HEAD, POST";
const FORM_ENCODING: &str = "application/x-www-form-urlencoded";

pub async fn refuse_unknown_methods(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::POST) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "Microblog does not accept {} requests; pages are read with GET and changes are sent with POST.",
            request.method()
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(SERVED_METHODS));
    response
}

pub async fn refuse_unknown_encodings(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || is_form_or_empty(request.headers()) {
        return next.run(request).await;
    }
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("Microblog only accepts forms ({FORM_ENCODING})."),
    )
        .into_response()
}

/// Reads the request's body whole before the request gets a task of its own
/// (`complete::run_to_completion`). That task runs to its end even when the client leaves, so
/// a body dribbled in a byte at a time kept the task, and through it the connection, alive
/// long after the request timeout had answered 408. Read here, the body is dropped with this
/// future when the timeout fires, and hyper closes the connection. Bodies are small: the size
/// limit is checked before this.
pub async fn read_whole_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // The size limit, or a client that went away (then nobody reads this).
        Err(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request is too large or could not be read.",
        )
            .into_response(),
    }
}

/// A form, or no body at all (a POST without fields may come without a Content-Type).
fn is_form_or_empty(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(FORM_ENCODING)),
        None => {
            let chunked = headers.contains_key(header::TRANSFER_ENCODING);
            let length = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok());
            !chunked && matches!(length, None | Some("0"))
        }
    }
}

/// Headers every response carries: no MIME sniffing, no framing, and no full URLs (with their
/// usernames and page cursors) sent to other sites. Pages set their own nonce-based
/// Content-Security-Policy; anything else (a server function's JSON, a static file) gets one
/// that allows nothing, should a browser ever be made to render it as a document.
pub async fn add_security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
        ));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn only_forms_and_empty_bodies_are_accepted() {
        type Case<'a> = (&'a [(&'static str, &'static str)], bool, &'a str);
        let cases: &[Case] = &[
            (&[("content-type", FORM_ENCODING)], true, "a form"),
            (
                &[(
                    "content-type",
                    "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                )],
                true,
                "a form, other case, with a charset",
            ),
            (&[], true, "no body"),
            (&[("content-length", "0")], true, "an empty body"),
            (&[("content-type", "text/plain")], false, "text/plain"),
            (
                &[("content-type", "application/json")],
                false,
                "json: the app never sends it",
            ),
            (
                &[("content-type", "multipart/form-data; boundary=x")],
                false,
                "multipart",
            ),
            (
                &[("content-type", "application/x-www-form-urlencodedx")],
                false,
                "a lookalike",
            ),
            (&[("content-length", "12")], false, "a body of no type"),
            (
                &[("transfer-encoding", "chunked")],
                false,
                "a chunked body of no type",
            ),
        ];
        for (pairs, expected, why) in cases {
            assert_eq!(is_form_or_empty(&headers(pairs)), *expected, "{why}");
        }
    }
}
