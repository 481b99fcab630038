//! Monotonic reads across requests, when replicas serve reads (`app::db::replicas::
//! RequestReads`): each request carries the position the person's earlier requests saw, in a
//! cookie of its own, and its answer carries the position its node had reached.
//!
//! A cookie rather than the session: reads would otherwise write the session on most page
//! views. What it holds is no secret and grants nothing: a lower number only lets its holder
//! see an older (still consistent) page, a higher one sends them to the primary.

use app::db::replicas::{RequestReads, WalPosition};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

pub const COOKIE: &str = "microblog_read_floor";

/// Gives the request its `RequestReads`, and sends back how far its reads have come.
pub async fn keep_reads_monotonic(
    State(replicas_configured): State<bool>,
    mut request: Request,
    next: Next,
) -> Response {
    if !replicas_configured {
        return next.run(request).await;
    }
    let floor = floor_of(&request);
    let reads = Arc::new(RequestReads::new(floor));
    request.extensions_mut().insert(reads.clone());
    let mut response = next.run(request).await;
    if let Some(seen) = reads.seen_up_to().await
        && Some(seen) > floor
        && let Ok(cookie) =
            HeaderValue::from_str(&format!("{COOKIE}={seen}; Path=/; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn floor_of(request: &Request) -> Option<WalPosition> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .filter_map(|value| value.parse::<WalPosition>().ok())
        .filter(|position| *position >= 0)
        .max()
}
