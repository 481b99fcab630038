//! The signed-in home page, served again while nothing on it has changed (issue #14).
//!
//! Rendering a home page cost about 1.2 ms of server CPU and its statements about 0.9 ms of
//! PostgreSQL's; a reader who reloads, or comes back to Home, mostly gets the same page. Each
//! process keeps the last home page it rendered for each reader, and serves it again only after
//! one statement (`db::users::home_stamp`, read with the signed-in user the page needs anyway)
//! shows that the database still agrees with it:
//!
//! - the reader's `home_version` is unchanged: no follow or unfollow by or of them, no edit of
//!   their profile (triggers move it in the same transaction as the change);
//! - nobody has edited a profile (a name or avatar may be on the page);
//! - neither the reader nor anyone they follow has a post begun since the page was known
//!   complete (by time, not id: see `POSTS_COMMIT_WITHIN`);
//! - its relative times ("5 minutes ago") still read the same, and it is under a minute old,
//!   which bounds what is not checked: a Who to follow ranking past its own lifetime.
//!
//! The check is made in the database on every view, so a change made through any server
//! process is seen at once; no process has to be told. (Rows edited by hand are seen only where
//! a trigger counts them: a post's text changed by hand is not; RELIABILITY.md.) The session is
//! loaded from the database as for every request, so a sign-out anywhere ends it too.
//!
//! Only a page that declared itself fit (`respond::page_cacheable_until`: its feed was read
//! from the primary, every part of it rendered) is kept, never one carrying a one-time message
//! or setting a cookie. Each response gets its own CSP nonce: the kept page holds the places
//! where the nonce goes, not the nonce.

use app::db::users::{HomeStamp, home_stamp};
use app::model::UserId;
use app::respond::{CACHEABLE_UNTIL_HEADER, NOT_CACHEABLE_HEADER};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use tower_sessions::Session;

/// A rendered home page is 25–40 KB: the default keeps about a thousand.
pub const DEFAULT_MEGABYTES: usize = 32;
/// A page bigger than this is served but not kept; no page of ours comes near it.
const MAX_PAGE_BYTES: usize = 256 * 1024;
/// Says whether a signed-in home page was served again (`hit`) or rendered (`rendered`), as a
/// CDN's `X-Cache` does: for the person's own page only, and for tests and a look in devtools.
pub const OUTCOME_HEADER: &str = "x-page-cache";

/// The home pages this process keeps, one per reader, within a budget of bytes.
pub struct PageCache {
    budget_bytes: usize,
    pages: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    by_reader: HashMap<UserId, Arc<KeptPage>>,
    bytes: usize,
    /// One render at a time per reader: the requests that find no page while one is being
    /// rendered wait for it and check it, rather than each rendering the same page. Sixty-four
    /// at once (one person's tabs, or a script) otherwise took the server for half a second.
    render_turns: HashMap<UserId, Arc<tokio::sync::Mutex<()>>>,
}

struct KeptPage {
    home_version: i64,
    profile_edits: i64,
    /// The page shows every post begun before this; it moves up with each check that finds no
    /// newer post of the reader's, so the next check walks only the last seconds of posts.
    posts_complete_before: Mutex<OffsetDateTime>,
    /// Unix milliseconds.
    until: i64,
    kept_at: Instant,
    headers: HeaderMap,
    /// The page's HTML cut where its nonce was; joined with a fresh one for each response.
    body_around_nonce: Vec<String>,
    /// The Content-Security-Policy, cut the same way.
    policy_around_nonce: Vec<String>,
    bytes: usize,
}

#[derive(Clone)]
pub struct PageCacheState {
    pub cache: Arc<PageCache>,
    pub pool: PgPool,
}

impl PageCache {
    /// A cache of at most `megabytes` of pages; 0 turns it off.
    pub fn new(megabytes: usize) -> Arc<Self> {
        Arc::new(PageCache {
            budget_bytes: megabytes.saturating_mul(1024 * 1024),
            pages: Mutex::default(),
        })
    }

    fn pages(&self) -> std::sync::MutexGuard<'_, Pages> {
        self.pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn kept(&self, reader: UserId) -> Option<Arc<KeptPage>> {
        self.pages().by_reader.get(&reader).cloned()
    }

    fn render_turn(&self, reader: UserId) -> Arc<tokio::sync::Mutex<()>> {
        self.pages().render_turns.entry(reader).or_default().clone()
    }

    /// Drops the reader's turn once nobody else holds or waits for it.
    fn end_render_turn(&self, reader: UserId, turn: Arc<tokio::sync::Mutex<()>>) {
        let mut pages = self.pages();
        drop(turn);
        // Only the map's is left: nobody else has it, and nobody can take it but through the
        // map, which is locked.
        if pages
            .render_turns
            .get(&reader)
            .is_some_and(|turn| Arc::strong_count(turn) == 1)
        {
            pages.render_turns.remove(&reader);
        }
    }

    fn forget(&self, reader: UserId) {
        let mut pages = self.pages();
        if let Some(page) = pages.by_reader.remove(&reader) {
            pages.bytes -= page.bytes;
        }
    }

    fn keep(&self, reader: UserId, page: KeptPage) {
        if page.bytes > self.budget_bytes {
            return;
        }
        let mut pages = self.pages();
        if let Some(old) = pages.by_reader.remove(&reader) {
            pages.bytes -= old.bytes;
        }
        if pages.bytes + page.bytes > self.budget_bytes {
            // Pages past their time go first, then those with the least time left. A scan of
            // the kept pages, on a render that took far longer.
            let now = unix_millis();
            let mut by_time_left: Vec<(i64, UserId)> = pages
                .by_reader
                .iter()
                .map(|(reader, kept)| (kept.until, *reader))
                .collect();
            by_time_left.sort_unstable_by_key(|(until, _)| *until);
            for (until, reader) in by_time_left {
                if until > now && pages.bytes + page.bytes <= self.budget_bytes {
                    break;
                }
                if let Some(evicted) = pages.by_reader.remove(&reader) {
                    pages.bytes -= evicted.bytes;
                }
            }
        }
        pages.bytes += page.bytes;
        pages.by_reader.insert(reader, Arc::new(page));
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// `GET /` as a page: no query (older pages are not kept), no one-time message waiting.
fn is_plain_home_view(request: &Request) -> bool {
    request.method() == Method::GET
        && request.uri().path() == "/"
        && request.uri().query().is_none()
        && app::flash::waiting(request.headers()).is_none()
}

fn outcome(name: &'static str) {
    metrics::counter!("microblog_page_cache_total", "outcome" => name).increment(1);
}

/// The middleware: serves a kept home page when the database agrees with it, and keeps each
/// home page it lets through that declared itself fit. Removes the pages' cache headers from
/// every response.
pub async fn serve(State(state): State<PageCacheState>, request: Request, next: Next) -> Response {
    let reader = match request.extensions().get::<Session>() {
        Some(session) if state.cache.budget_bytes > 0 && is_plain_home_view(&request) => {
            // The same call pages make: it also renews an active person's session once a day.
            app::auth::signed_in_user_id(session).await.ok().flatten()
        }
        _ => None,
    };
    let Some(reader) = reader else {
        return without_cache_headers(next.run(request).await);
    };
    let checked_at = Instant::now();
    match check(&state, reader).await {
        Ok(Checked::Shows(page)) => page,
        // A page that changed is rendered at once: whoever else renders it meanwhile renders it
        // for a change of their own. Waiting for them cost the soak 45 ms at p99.
        Ok(Checked::Render {
            stamp,
            why: Unkept::Changed,
        }) => render(&state, reader, stamp, Unkept::Changed, request, next).await,
        Ok(Checked::Render {
            stamp,
            why: Unkept::Missing,
        }) => render_in_turn(&state, reader, (checked_at, stamp), request, next).await,
        Err(()) => without_cache_headers(next.run(request).await),
    }
}

enum Checked {
    /// The kept page, as this response.
    Shows(Response),
    /// The page must be rendered, for this reader as the database has them now.
    Render { stamp: HomeStamp, why: Unkept },
}

/// Why no kept page could serve a view.
#[derive(Clone, Copy)]
enum Unkept {
    /// None is kept for the reader.
    Missing,
    /// The kept one no longer shows what the database says.
    Changed,
}

impl Unkept {
    fn outcome(self) -> &'static str {
        match self {
            Unkept::Missing => "miss",
            Unkept::Changed => "changed",
        }
    }
}

/// The reader's kept page checked against the database. `Err` when the account is gone or the
/// database is away: the page says so as it always did.
async fn check(state: &PageCacheState, reader: UserId) -> Result<Checked, ()> {
    let kept = state.cache.kept(reader);
    // A page past its time is not checked (its walk of posts would start where it was left)
    // and never served.
    let in_time = kept.as_ref().filter(|kept| unix_millis() < kept.until);
    let since = in_time.map(|kept| *lock(&kept.posts_complete_before));
    let Ok(Some(stamp)) = home_stamp(&state.pool, reader, since).await else {
        return Err(());
    };
    match kept {
        Some(kept) if since.is_some() && still_shows(&kept, &stamp) => {
            let mut complete_before = lock(&kept.posts_complete_before);
            *complete_before = (*complete_before).max(stamp.posts_settled_before);
            drop(complete_before);
            outcome("hit");
            Ok(Checked::Shows(with_outcome(kept.response(), "hit")))
        }
        Some(_) => Ok(Checked::Render {
            stamp,
            why: Unkept::Changed,
        }),
        None => Ok(Checked::Render {
            stamp,
            why: Unkept::Missing,
        }),
    }
}

/// Renders the reader's first page, unless another request is already rendering it: the views
/// that find no page at all (a first visit, several tabs opened at once) wait for that one
/// render rather than each rendering. The turn is only a barrier for them: once it is free they
/// check again if a page was kept meanwhile, and render alongside each other if not (the page
/// may not have been fit to keep). The first in line renders on what it found, without a
/// statement more.
async fn render_in_turn(
    state: &PageCacheState,
    reader: UserId,
    first_check: (Instant, HomeStamp),
    request: Request,
    next: Next,
) -> Response {
    let (checked_at, stamp) = first_check;
    let turn = state.cache.render_turn(reader);
    let in_turn = match turn.clone().try_lock_owned() {
        Ok(in_turn) => Some(in_turn),
        Err(_) => {
            drop(turn.clone().lock_owned().await);
            None
        }
    };
    // A render that ended between our check and now (whether we waited for it or not) may
    // have kept a page that shows.
    let kept_since_checked = state
        .cache
        .kept(reader)
        .is_some_and(|kept| kept.kept_at > checked_at);
    let checked = match kept_since_checked {
        true => check(state, reader).await,
        false => Ok(Checked::Render {
            stamp,
            why: Unkept::Missing,
        }),
    };
    let response = match checked {
        Ok(Checked::Shows(page)) => page,
        Ok(Checked::Render { stamp, why }) => {
            render(state, reader, stamp, why, request, next).await
        }
        Err(()) => without_cache_headers(next.run(request).await),
    };
    drop(in_turn);
    state.cache.end_render_turn(reader, turn);
    response
}

async fn render(
    state: &PageCacheState,
    reader: UserId,
    stamp: HomeStamp,
    why: Unkept,
    mut request: Request,
    next: Next,
) -> Response {
    outcome(why.outcome());
    state.cache.forget(reader);
    // The render would read the same row again: it finds it in the request's memo.
    request.extensions_mut().insert(stamp.signed_in.clone());
    let response = next.run(request).await;
    with_outcome(
        keep_if_fit(&state.cache, reader, &stamp, response).await,
        "rendered",
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a page in its time still shows what the database says.
fn still_shows(kept: &KeptPage, stamp: &HomeStamp) -> bool {
    kept.home_version == stamp.home_version
        && kept.profile_edits == stamp.profile_edits
        && !stamp.posted_since
}

fn without_cache_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.remove(CACHEABLE_UNTIL_HEADER);
    headers.remove(NOT_CACHEABLE_HEADER);
    response
}

fn with_outcome(mut response: Response, outcome: &'static str) -> Response {
    response.headers_mut().insert(
        axum::http::HeaderName::from_static(OUTCOME_HEADER),
        HeaderValue::from_static(outcome),
    );
    response
}

/// The render's response, passed on; kept first when it is a whole page fit to serve again.
/// The stamp was read before the render, so the page shows at least what it describes: a
/// change between the two only makes the next check fail.
async fn keep_if_fit(
    cache: &PageCache,
    reader: UserId,
    stamp: &HomeStamp,
    response: Response,
) -> Response {
    let until = response
        .headers()
        .get(CACHEABLE_UNTIL_HEADER)
        .and_then(|value| value.to_str().ok()?.parse::<i64>().ok());
    let fit = response.status() == StatusCode::OK
        && !response.headers().contains_key(NOT_CACHEABLE_HEADER)
        && !response.headers().contains_key(header::SET_COOKIE);
    let (Some(until), true) = (until, fit) else {
        return without_cache_headers(response);
    };
    let (mut parts, body) = without_cache_headers(response).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    // Our own render, already whole (the route renders in `Async` mode): no limit is needed to
    // read it, only to keep it.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "home page body could not be read");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let nonce = parts
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|policy| policy.to_str().ok())
        .and_then(nonce_of);
    if let (Some(nonce), Ok(html), true) = (
        nonce,
        std::str::from_utf8(&bytes),
        bytes.len() <= MAX_PAGE_BYTES,
    ) {
        let policy = parts.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default();
        let page = KeptPage {
            home_version: stamp.home_version,
            profile_edits: stamp.profile_edits,
            posts_complete_before: Mutex::new(stamp.posts_settled_before),
            until,
            kept_at: Instant::now(),
            body_around_nonce: html.split(nonce).map(str::to_owned).collect(),
            policy_around_nonce: policy.split(nonce).map(str::to_owned).collect(),
            headers: parts.headers.clone(),
            bytes: bytes.len(),
        };
        cache.keep(reader, page);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The nonce in a policy's `'nonce-…'` source.
fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let length = policy[start..].find('\'')?;
    Some(&policy[start..start + length]).filter(|nonce| nonce.len() >= 16)
}

impl KeptPage {
    fn response(&self) -> Response {
        let nonce = leptos::nonce::Nonce::new();
        let body = self.body_around_nonce.join(&*nonce);
        let mut headers = self.headers.clone();
        match HeaderValue::from_str(&self.policy_around_nonce.join(&*nonce)) {
            Ok(policy) => {
                headers.insert(header::CONTENT_SECURITY_POLICY, policy);
            }
            // Cannot happen (the policy was a header before); never serve without one.
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = headers;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(until: i64, bytes: usize) -> KeptPage {
        KeptPage {
            home_version: 0,
            profile_edits: 0,
            posts_complete_before: Mutex::new(OffsetDateTime::UNIX_EPOCH),
            until,
            kept_at: Instant::now(),
            headers: HeaderMap::new(),
            body_around_nonce: Vec::new(),
            policy_around_nonce: Vec::new(),
            bytes,
        }
    }

    #[test]
    fn the_cache_stays_within_its_bytes_and_drops_pages_past_their_time_first() {
        let cache = PageCache::new(1);
        let megabyte = 1024 * 1024;
        let later = unix_millis() + 60_000;
        cache.keep(UserId::new(1), page(0, megabyte / 2));
        cache.keep(UserId::new(2), page(later, megabyte / 2));
        cache.keep(UserId::new(3), page(later + 1, megabyte / 2));
        assert!(cache.kept(UserId::new(1)).is_none(), "past its time");
        assert!(cache.kept(UserId::new(2)).is_some() && cache.kept(UserId::new(3)).is_some());

        cache.keep(UserId::new(4), page(later + 2, megabyte / 2));
        assert!(cache.kept(UserId::new(2)).is_none(), "least time left");
        assert!(cache.kept(UserId::new(4)).is_some());
        assert_eq!(cache.pages().bytes, megabyte);

        cache.keep(UserId::new(4), page(later + 3, megabyte / 4));
        assert_eq!(
            cache.pages().bytes,
            megabyte / 2 + megabyte / 4,
            "replaced, not added"
        );
        cache.keep(UserId::new(5), page(later, 2 * megabyte));
        assert!(
            cache.kept(UserId::new(5)).is_none(),
            "bigger than the whole budget"
        );
    }

    #[test]
    fn the_nonce_is_read_from_the_policy() {
        assert_eq!(
            nonce_of("script-src 'self' 'nonce-AbCdEfGhIjKlMnOpQrStUv' 'wasm-unsafe-eval'"),
            Some("AbCdEfGhIjKlMnOpQrStUv")
        );
        assert_eq!(nonce_of("script-src 'self'"), None);
        assert_eq!(
            nonce_of("script-src 'nonce-x'"),
            None,
            "too short to be ours"
        );
    }
}
