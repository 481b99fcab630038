//! Pages served again while nothing on them has changed: each signed-in reader's
//! home page, and the first page of explore and of every profile, which are the same for
//! every viewer but for a few bytes.
//!
//! Rendering a home page cost about 1.2 ms of server CPU and its statements about 0.9 ms of
//! PostgreSQL's; a profile or explore about 0.9 ms and 0.3 ms. A reader who reloads, or comes
//! back to Home, mostly gets the same page, and everyone who opens explore or a popular profile
//! within the same seconds gets the same posts. Each process keeps the pages it rendered, and
//! serves one again only after one statement (`app::db::page_stamps`, read with the signed-in
//! user the page needs anyway) shows that the database still agrees with it:
//!
//! - a home page: the reader's `home_version` is unchanged (no follow or unfollow by or of
//!   them, no edit of their profile: triggers move it in the same transaction as the change),
//!   nobody has edited a profile (a name or avatar may be on the page), and neither the reader
//!   nor anyone they follow has a post that was not yet visible when the page was known
//!   complete (by snapshot, not by time or id: see `page_stamps::PostsSnapshot`);
//! - explore: nobody has edited a profile, and nobody has a post new since;
//! - a profile: everything on it is its owner's, so their `home_version` and `last_seen` are
//!   unchanged and they have no post new since;
//! - every page: its relative times ("5 minutes ago") still read the same, and it is under a
//!   minute old, which bounds what is not checked (a Who to follow ranking past its own
//!   lifetime, a row edited by hand).
//!
//! The check is made in the database on every view, so a change made through any server
//! process is seen at once; no process has to be told. (Rows edited by hand are seen only where
//! a trigger counts them: a post's text changed by hand is not; RELIABILITY.md.) The session is
//! loaded from the database as for every request, so a sign-out anywhere ends it too.
//!
//! Explore and a profile are kept once for all the viewers who see the same page: signed out,
//! or signed in and standing the same way to the profile's owner (following them or not,
//! followed by them or not; the owner's own view is rendered each time). Between two such
//! viewers only who is signed in differs: the page's navigation links to their profile and its
//! hydration data names them. The kept page has holes there (`Template`), filled for each
//! viewer, as it has where each response's CSP nonce goes. A render whose viewer is not named
//! exactly there, and nowhere else in its hydration data, is not kept, so a change of either
//! in Leptos or in our pages can make the cache miss, never show someone else's name.
//!
//! Only a page whose every part declared itself fit (`respond::page_cacheable_until`: read from
//! the primary, every part rendered) is kept, never one carrying a one-time message or setting
//! a cookie.

mod store;
mod template;
mod views;

use app::db::page_stamps::{self, HomeStamp, PostsSnapshot};
use app::db::users::SignedIn;
use app::domain::Username;
use app::model::UserId;
use app::respond::{CACHEABLE_UNTIL_HEADER, NOT_CACHEABLE_HEADER};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tower_sessions::Session;

pub use store::PageCache;
use store::{KeptPage, PageKey, SharedPage, Shows, Standing, lock, unix_millis};
use template::{Template, nonce_of};
use views::{Asked, Stamp, View, page_asked, stamp_of, view_of};
#[cfg(test)]
use {
    app::model::CurrentUser,
    store::PROFILES_REMEMBERED,
    template::{viewer_data, viewer_link},
};

/// A rendered page is 15–40 KB: the default keeps about a thousand.
pub const DEFAULT_MEGABYTES: usize = 32;
/// A page bigger than this is served but not kept; no page of ours comes near it.
const MAX_PAGE_BYTES: usize = 256 * 1024;
/// Says whether a page was served again (`hit`) or rendered (`rendered`), as a CDN's `X-Cache`
/// does: for tests and a look in devtools.
pub const OUTCOME_HEADER: &str = "x-page-cache";

#[derive(Clone)]
pub struct PageCacheState {
    pub cache: Arc<PageCache>,
    pub pool: PgPool,
    /// Whether explore and profiles are kept: not while replicas serve reads. Their parts read
    /// from a replica, which makes a page unfit to keep (the check reads the primary, which a
    /// replica may trail), so checking a view would cost a statement on the primary for nothing:
    /// with a standby, profile fell from 1,460 to 1,040 requests/s (`make bench`).
    pub keeps_shared_pages: bool,
}

fn outcome(key: &PageKey, name: &'static str) {
    let page = match key {
        PageKey::Home(_) => "home",
        PageKey::Shared {
            page: SharedPage::Explore,
            ..
        } => "explore",
        PageKey::Shared {
            page: SharedPage::Profile(_),
            ..
        } => "profile",
    };
    metrics::counter!("microblog_page_cache_total", "page" => page, "outcome" => name).increment(1);
}

/// The middleware: serves a kept page when the database agrees with it, and keeps each page it
/// lets through that declared itself fit. Removes the pages' cache headers from every
/// response.
pub async fn serve(State(state): State<PageCacheState>, request: Request, next: Next) -> Response {
    let asked = page_asked(&request).filter(|(asked, _)| {
        state.cache.budget_bytes > 0 && (matches!(asked, Asked::Home) || state.keeps_shared_pages)
    });
    let view = match asked {
        Some((asked, session)) => view_of(asked, &session).await,
        None => None,
    };
    let Some(view) = view else {
        return without_cache_headers(next.run(request).await);
    };
    let checked_at = Instant::now();
    match check(&state, &view).await {
        Ok(Checked::Shows(page)) => {
            // Checked against the primary: what it shows is as new as the primary was then.
            if let Some(reads) = request
                .extensions()
                .get::<Arc<app::db::replicas::RequestReads>>()
            {
                reads.pin_primary(&state.pool);
            }
            page
        }
        // A page that changed is rendered at once: whoever else renders it meanwhile renders it
        // for a change of their own. Waiting for them cost the soak 45 ms at p99.
        Ok(Checked::Render {
            stamp,
            why: Unkept::Changed,
        }) => render(&state, stamp, Unkept::Changed, request, next).await,
        Ok(Checked::Render {
            stamp,
            why: Unkept::Missing,
        }) => render_in_turn(&state, &view, (checked_at, stamp), request, next).await,
        Err(()) => without_cache_headers(next.run(request).await),
    }
}

enum Checked {
    /// The kept page, as this response.
    Shows(Response),
    /// The page must be rendered, for this viewer as the database has it now.
    Render { stamp: Stamp, why: Unkept },
}

/// Why no kept page could serve a view.
#[derive(Clone, Copy)]
enum Unkept {
    /// None is kept for the viewer.
    Missing,
    /// The kept one no longer shows what the database says, or is past its time.
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

/// The view's kept page checked against the database. `Err` as for `stamp_of`.
async fn check(state: &PageCacheState, view: &View) -> Result<Checked, ()> {
    // A page past its time is not checked (its walk of posts would start where it was left)
    // and never served. Before the statement it is not known which of a profile's pages is
    // the viewer's: posts are checked from the earliest point any of them needs.
    let now = unix_millis();
    let kept_before: Vec<(PageKey, Arc<KeptPage>)> = view
        .candidates()
        .into_iter()
        .filter_map(|key| state.cache.kept(&key).map(|kept| (key, kept)))
        .collect();
    let since = kept_before
        .iter()
        .filter(|(_, kept)| now < kept.until)
        .map(|(_, kept)| lock(&kept.posts_complete_at).clone())
        .min();
    let stamp = stamp_of(&state.pool, view, since.as_ref()).await?;
    // The page as it was before the statement: one kept while it ran is for `render_in_turn`
    // to find, not to be taken for a page that changed.
    let kept = kept_before
        .into_iter()
        .find(|(key, _)| *key == stamp.key)
        .map(|(_, kept)| kept);
    match kept {
        Some(kept) if now < kept.until && since.is_some() && still_shows(&kept, &stamp) => {
            let mut complete_at = lock(&kept.posts_complete_at);
            if stamp.posts_seen_at > *complete_at {
                *complete_at = stamp.posts_seen_at.clone();
            }
            drop(complete_at);
            outcome(&stamp.key, "hit");
            let viewer = stamp.signed_in.as_ref().map(|signed_in| &signed_in.user);
            Ok(Checked::Shows(with_outcome(kept.response(viewer), "hit")))
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

/// Renders the page, unless another request is already rendering it: the views that find no
/// page at all (a first visit, several tabs opened at once, many viewers of a page not kept
/// yet) wait for that one render rather than each rendering. The turn is only a barrier
/// for them: once it is free they check again if a page was kept meanwhile, and render
/// alongside each other if not (the page may not have been fit to keep). The first in line
/// renders on what it found, without a statement more.
async fn render_in_turn(
    state: &PageCacheState,
    view: &View,
    first_check: (Instant, Stamp),
    request: Request,
    next: Next,
) -> Response {
    let (checked_at, stamp) = first_check;
    let key = stamp.key.clone();
    let turn = state.cache.render_turn(&key);
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
        .kept(&key)
        .is_some_and(|kept| kept.kept_at > checked_at);
    let checked = match kept_since_checked {
        true => check(state, view).await,
        false => Ok(Checked::Render {
            stamp,
            why: Unkept::Missing,
        }),
    };
    let response = match checked {
        Ok(Checked::Shows(page)) => page,
        Ok(Checked::Render { stamp, why }) => render(state, stamp, why, request, next).await,
        Err(()) => without_cache_headers(next.run(request).await),
    };
    drop(in_turn);
    state.cache.end_render_turn(&key, turn);
    response
}

async fn render(
    state: &PageCacheState,
    stamp: Stamp,
    why: Unkept,
    mut request: Request,
    next: Next,
) -> Response {
    outcome(&stamp.key, why.outcome());
    state.cache.forget(&stamp.key);
    // The render would read the same row again: it finds it in the request's memo.
    if let Some(signed_in) = &stamp.signed_in {
        request.extensions_mut().insert(signed_in.clone());
    }
    let response = next.run(request).await;
    with_outcome(
        keep_if_fit(&state.cache, stamp, why, response).await,
        "rendered",
    )
}

/// Whether a page in its time still shows what the database says.
fn still_shows(kept: &KeptPage, stamp: &Stamp) -> bool {
    kept.shows == stamp.shows && !stamp.posted_since
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

/// The earliest time the page's parts declared, if any did and none refused.
fn fit_until(headers: &HeaderMap) -> Option<i64> {
    if headers.contains_key(NOT_CACHEABLE_HEADER) {
        return None;
    }
    headers
        .get_all(CACHEABLE_UNTIL_HEADER)
        .iter()
        .map(|value| value.to_str().ok()?.parse::<i64>().ok())
        .collect::<Option<Vec<i64>>>()?
        .into_iter()
        .min()
}

/// The render's response, passed on; kept first when it is a whole page fit to serve again.
/// The stamp was read before the render, so the page shows at least what it describes: a
/// change between the two only makes the next check fail.
async fn keep_if_fit(cache: &PageCache, stamp: Stamp, why: Unkept, response: Response) -> Response {
    let fit =
        response.status() == StatusCode::OK && !response.headers().contains_key(header::SET_COOKIE);
    // A page that was kept before is kept again.
    let worth = |key| matches!(why, Unkept::Changed) || cache.worth_keeping(key);
    let until = fit_until(response.headers()).filter(|_| fit && worth(&stamp.key));
    let Some(until) = until else {
        return without_cache_headers(response);
    };
    let (mut parts, body) = without_cache_headers(response).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    // Our own render, already whole (the route renders in `Async` mode): no limit is needed to
    // read it, only to keep it.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "page body could not be read");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // A home page is only ever its reader's: only a shared page has holes for the viewer.
    let viewer = match &stamp.key {
        PageKey::Home(_) => None,
        PageKey::Shared { .. } => stamp.signed_in.as_ref().map(|signed_in| &signed_in.user),
    };
    let policy = parts
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|policy| policy.to_str().ok());
    let nonce = policy.and_then(nonce_of);
    let templates = match (policy, nonce, std::str::from_utf8(&bytes)) {
        (Some(policy), Some(nonce), Ok(html)) if bytes.len() <= MAX_PAGE_BYTES => {
            Template::cut(html, nonce, viewer).zip(Template::cut(policy, nonce, None))
        }
        _ => None,
    };
    match templates {
        Some((body, policy)) => {
            let page = KeptPage {
                shows: stamp.shows,
                posts_complete_at: Mutex::new(stamp.posts_seen_at.clone()),
                until,
                kept_at: Instant::now(),
                body,
                policy,
                headers: parts.headers.clone(),
                bytes: bytes.len(),
            };
            cache.keep(stamp.key, page);
        }
        None => tracing::debug!("a page fit to keep could not be cut into a template"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests;
