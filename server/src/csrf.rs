//! Refuses state-changing requests that a page on another site made the browser send.
//!
//! Leptos does not do this for server functions. The check follows the browsers' own signals
//! (the approach of Go's `http.CrossOriginProtection`): `Sec-Fetch-Site` when present, else
//! `Origin`, else `Referer`, compared with the `Host` the request was sent to. A request with
//! none of them cannot come from a browser (every current browser sends `Origin` on a POST),
//! so it cannot be a forgery riding on someone's cookie and is let through for API clients.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_cross_site_writes(request: Request, next: Next) -> Response {
    let safe_method = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe_method || is_same_origin(request.headers(), request.uri()) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
    (
        StatusCode::FORBIDDEN,
        "This request came from another website, so it was refused. \
         Please use Microblog's own pages.",
    )
        .into_response()
}

fn is_same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = header_text("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    let Some(host) = header_text(header::HOST.as_str())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
    else {
        return false;
    };
    let authority_of = |url: &str| url.parse::<Uri>().ok()?.authority().map(|a| a.to_string());
    if let Some(origin) = header_text(header::ORIGIN.as_str()) {
        return authority_of(origin).is_some_and(|authority| authority.eq_ignore_ascii_case(&host));
    }
    if let Some(referer) = header_text(header::REFERER.as_str()) {
        return authority_of(referer)
            .is_some_and(|authority| authority.eq_ignore_ascii_case(&host));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_site_requests_pass_and_foreign_ones_do_not() {
        let uri: Uri = "/api/follow".parse().unwrap();
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);
        let cases: &[Case] = &[
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("origin", "http://127.0.0.1:3000"),
                ],
                true,
                "own origin",
            ),
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("origin", "http://evil.example"),
                ],
                false,
                "foreign origin",
            ),
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("origin", "http://127.0.0.1:3999"),
                ],
                false,
                "other port",
            ),
            (
                &[("host", "127.0.0.1:3000"), ("origin", "null")],
                false,
                "opaque origin",
            ),
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("referer", "http://127.0.0.1:3000/user/a"),
                ],
                true,
                "own referer",
            ),
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("referer", "http://evil.example/x"),
                ],
                false,
                "foreign referer",
            ),
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://127.0.0.1:3000"),
                ],
                false,
                "fetch metadata wins",
            ),
            (
                &[("host", "127.0.0.1:3000"), ("sec-fetch-site", "same-site")],
                false,
                "sibling subdomain",
            ),
            (
                &[
                    ("host", "127.0.0.1:3000"),
                    ("sec-fetch-site", "same-origin"),
                ],
                true,
                "fetch metadata same origin",
            ),
            (
                &[("host", "127.0.0.1:3000")],
                true,
                "no browser headers: not a browser",
            ),
        ];
        for (pairs, expected, why) in cases {
            assert_eq!(is_same_origin(&headers(pairs), &uri), *expected, "{why}");
        }
    }
}
