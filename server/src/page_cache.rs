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

use app::db::page_stamps::{self, HomeStamp, PostsSnapshot};
use app::db::users::SignedIn;
use app::domain::Username;
use app::model::{CurrentUser, UserId};
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

/// A rendered page is 15–40 KB: the default keeps about a thousand.
pub const DEFAULT_MEGABYTES: usize = 32;
/// A page bigger than this is served but not kept; no page of ours comes near it.
const MAX_PAGE_BYTES: usize = 256 * 1024;
/// Says whether a page was served again (`hit`) or rendered (`rendered`), as a CDN's `X-Cache`
/// does: for tests and a look in devtools.
pub const OUTCOME_HEADER: &str = "x-page-cache";

/// The pages this process keeps, within a budget of bytes.
pub struct PageCache {
    budget_bytes: usize,
    pages: Mutex<Pages>,
}

/// Which page a kept page is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PageKey {
    /// A reader's home page.
    Home(UserId),
    /// Explore or a profile, as everyone who stands as `viewer` sees it.
    Shared { page: SharedPage, viewer: Standing },
}

/// The pages kept once for many viewers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SharedPage {
    Explore,
    /// The profile at `/user/{name}`, the name as the path spells it.
    Profile(Username),
}

/// How a viewer stands to a shared page: what, besides who they are, its render depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Standing {
    SignedOut,
    /// Signed in; on a profile, whether they follow its owner and whether its owner follows
    /// them (both false on explore).
    SignedIn {
        following: bool,
        followed_by: bool,
    },
}

/// A page view the cache can serve.
enum View {
    Home(UserId),
    Explore(Option<UserId>),
    Profile(Option<UserId>, Username),
}

#[derive(Default)]
struct Pages {
    by_key: HashMap<PageKey, Arc<KeptPage>>,
    bytes: usize,
    /// One render at a time per page: the requests that find no page while one is being
    /// rendered wait for it and check it, rather than each rendering the same page. Sixty-four
    /// at once (one person's tabs, or a script) otherwise took the server for half a second.
    render_turns: HashMap<PageKey, Arc<tokio::sync::Mutex<()>>>,
    /// Profiles rendered once lately, and until when a second render makes them worth keeping
    /// (unix milliseconds): see `worth_keeping`.
    profiles_rendered_once: HashMap<PageKey, i64>,
}

/// How many profiles `profiles_rendered_once` remembers at most: a few hundred kilobytes of
/// keys, whatever a crawler walks through.
const PROFILES_REMEMBERED: usize = 10_000;
/// A profile rendered again within this is kept (`PageCache::worth_keeping`).
const PROFILE_AGAIN_WITHIN_MILLIS: i64 = 10_000;

/// What the database said of a page when it was rendered; a view is served the kept page only
/// while it says the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shows {
    Home {
        home_version: i64,
        profile_edits: i64,
    },
    Explore {
        profile_edits: i64,
    },
    Profile {
        owner_version: i64,
        owner_last_seen: OffsetDateTime,
    },
}

struct KeptPage {
    shows: Shows,
    /// The page shows every post visible in this snapshot; it moves up with each check that
    /// finds no newer post on it, so the next check walks only the posts of the last moments.
    posts_complete_at: Mutex<PostsSnapshot>,
    /// Unix milliseconds.
    until: i64,
    kept_at: Instant,
    headers: HeaderMap,
    body: Template,
    /// The Content-Security-Policy, cut where its nonce is.
    policy: Template,
    bytes: usize,
}

/// A kept page's text, with holes for what each response puts in its own.
struct Template {
    pieces: Vec<Piece>,
}

enum Piece {
    Text(String),
    /// The response's CSP nonce.
    Nonce,
    /// The signed-in viewer in the page's hydration data.
    ViewerData,
    /// The navigation's link to the viewer's profile.
    ViewerLink,
}

#[derive(Clone)]
pub struct PageCacheState {
    pub cache: Arc<PageCache>,
    pub pool: PgPool,
    /// Whether explore and profiles are kept: not while replicas serve reads. Their parts read
    /// from a replica, which makes a page unfit to keep (the check reads the primary, which a
    /// replica may trail), so checking a view would cost a statement on the primary for nothing:
    /// with a standby, profile fell from 1,460 to 1,040 requests/s (`make bench`, run 12).
    pub keeps_shared_pages: bool,
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
        lock(&self.pages)
    }

    fn kept(&self, key: &PageKey) -> Option<Arc<KeptPage>> {
        self.pages().by_key.get(key).cloned()
    }

    fn render_turn(&self, key: &PageKey) -> Arc<tokio::sync::Mutex<()>> {
        self.pages()
            .render_turns
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// Drops the page's turn once nobody else holds or waits for it.
    fn end_render_turn(&self, key: &PageKey, turn: Arc<tokio::sync::Mutex<()>>) {
        let mut pages = self.pages();
        drop(turn);
        // Only the map's is left: nobody else has it, and nobody can take it but through the
        // map, which is locked.
        if pages
            .render_turns
            .get(key)
            .is_some_and(|turn| Arc::strong_count(turn) == 1)
        {
            pages.render_turns.remove(key);
        }
    }

    /// Whether a render of `key` is worth keeping. A profile is kept from its second render
    /// within `PROFILE_AGAIN_WITHIN_MILLIS`: most are viewed once, by one person (the soak's random
    /// profiles filled the whole budget within seconds, each page kept for nothing, and the
    /// server's memory with it), while one that is viewed again soon is likely to be viewed
    /// more. Over a minute, chance pairs among the soak's 100,000 profiles kept about 500 pages
    /// a minute and the server ended the soak at 65 MiB; over ten seconds, a sixth of that.
    fn worth_keeping(&self, key: &PageKey) -> bool {
        let PageKey::Shared {
            page: SharedPage::Profile(_),
            ..
        } = key
        else {
            return true;
        };
        let now = unix_millis();
        let mut pages = self.pages();
        let seen = &mut pages.profiles_rendered_once;
        if seen.get(key).is_some_and(|until| now < *until) {
            seen.remove(key);
            return true;
        }
        if seen.len() >= PROFILES_REMEMBERED {
            seen.retain(|_, until| now < *until);
            if seen.len() >= PROFILES_REMEMBERED {
                seen.clear();
            }
        }
        seen.insert(key.clone(), now + PROFILE_AGAIN_WITHIN_MILLIS);
        false
    }

    fn forget(&self, key: &PageKey) {
        let mut pages = self.pages();
        if let Some(page) = pages.by_key.remove(key) {
            pages.bytes -= page.bytes;
        }
    }

    fn keep(&self, key: PageKey, page: KeptPage) {
        if page.bytes > self.budget_bytes {
            return;
        }
        let mut pages = self.pages();
        if let Some(old) = pages.by_key.remove(&key) {
            pages.bytes -= old.bytes;
        }
        if pages.bytes + page.bytes > self.budget_bytes {
            // Pages past their time go first, then those with the least time left. A scan of
            // the kept pages, on a render that took far longer.
            let now = unix_millis();
            let mut by_time_left: Vec<(i64, PageKey)> = pages
                .by_key
                .iter()
                .map(|(key, kept)| (kept.until, key.clone()))
                .collect();
            by_time_left.sort_unstable_by_key(|(until, _)| *until);
            for (until, key) in by_time_left {
                if until > now && pages.bytes + page.bytes <= self.budget_bytes {
                    break;
                }
                if let Some(evicted) = pages.by_key.remove(&key) {
                    pages.bytes -= evicted.bytes;
                }
            }
        }
        pages.bytes += page.bytes;
        pages.by_key.insert(key, Arc::new(page));
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Which page a request asks for, if it is one the cache can serve: a `GET` of a first page
/// (older pages are not kept) with no one-time message waiting. With the request's session.
fn page_asked(request: &Request) -> Option<(Asked, Session)> {
    if request.method() != Method::GET || request.uri().query().is_some() {
        return None;
    }
    let asked = match request.uri().path() {
        "/" => Asked::Home,
        "/explore" => Asked::Explore,
        path => Asked::Profile(app::api::existing_username(path.strip_prefix("/user/")?).ok()?),
    };
    if app::flash::waiting(request.headers()).is_some() {
        return None;
    }
    let session = request.extensions().get::<Session>()?.clone();
    Some((asked, session))
}

enum Asked {
    Home,
    Explore,
    Profile(Username),
}

/// The view, once the session says who asks: Home only for someone signed in.
async fn view_of(asked: Asked, session: &Session) -> Option<View> {
    // The same call pages make: it also renews an active person's session once a day.
    let viewer = app::auth::signed_in_user_id(session).await.ok()?;
    match asked {
        Asked::Home => viewer.map(View::Home),
        Asked::Explore => Some(View::Explore(viewer)),
        Asked::Profile(name) => Some(View::Profile(viewer, name)),
    }
}

impl View {
    /// The pages this view may be served, before the database says how the viewer stands.
    fn candidates(&self) -> Vec<PageKey> {
        let (viewer, page) = match self {
            View::Home(reader) => return vec![PageKey::Home(*reader)],
            View::Explore(viewer) => (viewer, SharedPage::Explore),
            View::Profile(viewer, name) => (viewer, SharedPage::Profile(name.clone())),
        };
        let signed_in = |following, followed_by| Standing::SignedIn {
            following,
            followed_by,
        };
        let standings = match (viewer, &page) {
            (None, _) => vec![Standing::SignedOut],
            (Some(_), SharedPage::Explore) => vec![signed_in(false, false)],
            (Some(_), SharedPage::Profile(_)) => vec![
                signed_in(false, false),
                signed_in(true, false),
                signed_in(false, true),
                signed_in(true, true),
            ],
        };
        standings
            .into_iter()
            .map(|viewer| PageKey::Shared {
                page: page.clone(),
                viewer,
            })
            .collect()
    }
}

/// What a view's statement said: which page is the viewer's, and what it must show.
struct Stamp {
    key: PageKey,
    shows: Shows,
    /// The viewer, when signed in: the render reads them from here, and a shared page is
    /// filled with them.
    signed_in: Option<SignedIn>,
    posts_seen_at: PostsSnapshot,
    posted_since: bool,
}

/// The view's stamp; `Err` when the page is not the cache's to serve (the viewer's account is
/// gone, nobody has the profile's name, it is the viewer's own profile) or the database is
/// away: the page then says so as it always did.
async fn stamp_of(pool: &PgPool, view: &View, since: Option<&PostsSnapshot>) -> Result<Stamp, ()> {
    let standing = |signed_in: &Option<SignedIn>, following, followed_by| match signed_in {
        Some(_) => Standing::SignedIn {
            following,
            followed_by,
        },
        None => Standing::SignedOut,
    };
    // A viewer the session names but the database no longer has.
    let gone =
        |asked: &Option<UserId>, found: &Option<SignedIn>| asked.is_some() && found.is_none();
    match view {
        View::Home(reader) => {
            let Ok(Some(stamp)) = page_stamps::home_stamp(pool, *reader, since).await else {
                return Err(());
            };
            Ok(home(stamp))
        }
        View::Explore(viewer) => {
            let stamp = page_stamps::explore_stamp(pool, *viewer, since)
                .await
                .map_err(|_| ())?;
            if gone(viewer, &stamp.viewer) {
                return Err(());
            }
            Ok(Stamp {
                key: PageKey::Shared {
                    page: SharedPage::Explore,
                    viewer: standing(&stamp.viewer, false, false),
                },
                shows: Shows::Explore {
                    profile_edits: stamp.profile_edits,
                },
                signed_in: stamp.viewer,
                posts_seen_at: stamp.posts_seen_at,
                posted_since: stamp.posted_since,
            })
        }
        View::Profile(viewer, name) => {
            let Ok(Some(stamp)) = page_stamps::profile_stamp(pool, *viewer, name, since).await
            else {
                return Err(());
            };
            if gone(viewer, &stamp.viewer) || *viewer == Some(stamp.owner) {
                return Err(());
            }
            Ok(Stamp {
                key: PageKey::Shared {
                    page: SharedPage::Profile(name.clone()),
                    viewer: standing(
                        &stamp.viewer,
                        stamp.followed_by_viewer,
                        stamp.follows_viewer,
                    ),
                },
                shows: Shows::Profile {
                    owner_version: stamp.owner_version,
                    owner_last_seen: stamp.owner_last_seen,
                },
                signed_in: stamp.viewer,
                posts_seen_at: stamp.posts_seen_at,
                posted_since: stamp.posted_since,
            })
        }
    }
}

fn home(stamp: HomeStamp) -> Stamp {
    Stamp {
        key: PageKey::Home(stamp.signed_in.user.id),
        shows: Shows::Home {
            home_version: stamp.home_version,
            profile_edits: stamp.profile_edits,
        },
        signed_in: Some(stamp.signed_in),
        posts_seen_at: stamp.posts_seen_at,
        posted_since: stamp.posted_since,
    }
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// The nonce in a policy's `'nonce-…'` source.
fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let length = policy[start..].find('\'')?;
    Some(&policy[start..start + length]).filter(|nonce| nonce.len() >= 16)
}

/// The signed-in user as a page's hydration data carries them: Leptos writes each resource's
/// JSON as a JavaScript string literal (Rust's `{:?}` of it, with `<` escaped), and the
/// session's resource holds `Result<Option<CurrentUser>, _>`.
fn viewer_data(user: &CurrentUser) -> String {
    let json =
        serde_json::to_string(&Ok::<Option<&CurrentUser>, ()>(Some(user))).unwrap_or_default();
    format!("{:?}", json.replace('<', "\\u003c"))
}

/// The navigation's link to the user's profile (`components::nav`).
fn viewer_link(user: &CurrentUser) -> String {
    format!("href=\"/user/{}\"", user.username)
}

impl Template {
    /// `text` with a hole at every `nonce` and, given the viewer it was rendered for, where it
    /// names them: once in the hydration data, once in the navigation (before `<main`). `None`
    /// when they are not found exactly so.
    fn cut(text: &str, nonce: &str, viewer: Option<&CurrentUser>) -> Option<Template> {
        let mut holes: Vec<(usize, usize, Piece)> = text
            .match_indices(nonce)
            .map(|(at, found)| (at, found.len(), Piece::Nonce))
            .collect();
        if let Some(viewer) = viewer {
            let once = |within: &str, wanted: &str| {
                let mut found = within.match_indices(wanted).map(|(at, _)| at);
                found.next().filter(|_| found.next().is_none())
            };
            let data = viewer_data(viewer);
            holes.push((once(text, &data)?, data.len(), Piece::ViewerData));
            let link = viewer_link(viewer);
            let navigation = &text[..text.find("<main")?];
            holes.push((once(navigation, &link)?, link.len(), Piece::ViewerLink));
        }
        holes.sort_by_key(|(at, ..)| *at);
        let mut pieces = Vec::with_capacity(2 * holes.len() + 1);
        let mut from = 0;
        for (at, length, piece) in holes {
            if at < from {
                return None;
            }
            pieces.push(Piece::Text(text[from..at].to_owned()));
            pieces.push(piece);
            from = at + length;
        }
        pieces.push(Piece::Text(text[from..].to_owned()));
        Some(Template { pieces })
    }

    fn fill(&self, nonce: &str, viewer: Option<&CurrentUser>) -> String {
        let (data, link) = match viewer {
            Some(viewer) => (viewer_data(viewer), viewer_link(viewer)),
            None => (String::new(), String::new()),
        };
        let mut text = String::with_capacity(
            self.pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.len(),
                    _ => 64,
                })
                .sum(),
        );
        for piece in &self.pieces {
            text.push_str(match piece {
                Piece::Text(part) => part,
                Piece::Nonce => nonce,
                Piece::ViewerData => &data,
                Piece::ViewerLink => &link,
            });
        }
        text
    }
}

impl KeptPage {
    /// The page for `viewer` (the one signed in, if anyone), with a fresh nonce.
    fn response(&self, viewer: Option<&CurrentUser>) -> Response {
        let nonce = leptos::nonce::Nonce::new();
        let body = self.body.fill(&nonce, viewer);
        let mut headers = self.headers.clone();
        match HeaderValue::from_str(&self.policy.fill(&nonce, None)) {
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
            shows: Shows::Explore { profile_edits: 0 },
            posts_complete_at: Mutex::new(PostsSnapshot("1:1:".into())),
            until,
            kept_at: Instant::now(),
            headers: HeaderMap::new(),
            body: Template { pieces: Vec::new() },
            policy: Template { pieces: Vec::new() },
            bytes,
        }
    }

    fn home(reader: i64) -> PageKey {
        PageKey::Home(UserId::new(reader))
    }

    #[test]
    fn the_cache_stays_within_its_bytes_and_drops_pages_past_their_time_first() {
        let cache = PageCache::new(1);
        let megabyte = 1024 * 1024;
        let later = unix_millis() + 60_000;
        cache.keep(home(1), page(0, megabyte / 2));
        cache.keep(home(2), page(later, megabyte / 2));
        cache.keep(home(3), page(later + 1, megabyte / 2));
        assert!(cache.kept(&home(1)).is_none(), "past its time");
        assert!(cache.kept(&home(2)).is_some() && cache.kept(&home(3)).is_some());

        cache.keep(home(4), page(later + 2, megabyte / 2));
        assert!(cache.kept(&home(2)).is_none(), "least time left");
        assert!(cache.kept(&home(4)).is_some());
        assert_eq!(cache.pages().bytes, megabyte);

        cache.keep(home(4), page(later + 3, megabyte / 4));
        assert_eq!(
            cache.pages().bytes,
            megabyte / 2 + megabyte / 4,
            "replaced, not added"
        );
        cache.keep(home(5), page(later, 2 * megabyte));
        assert!(
            cache.kept(&home(5)).is_none(),
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

    #[test]
    fn a_shared_page_is_cut_where_it_names_its_viewer_and_filled_for_each() {
        let alice = CurrentUser {
            id: UserId::new(7),
            username: "alice".to_owned(),
        };
        let bob = CurrentUser {
            id: UserId::new(12),
            username: "bob".to_owned(),
        };
        let page = |viewer: &CurrentUser, nonce: &str| {
            format!(
                "<header><a href=\"/\">Home</a><a {}>Profile</a></header><main>\
                 <a href=\"/user/alice\">alice</a><script nonce=\"{nonce}\">\
                 __RESOLVED_RESOURCES[0] = {};</script></main>",
                viewer_link(viewer),
                viewer_data(viewer)
            )
        };
        let nonce = "AbCdEfGhIjKlMnOpQrStUv";
        let template = Template::cut(&page(&alice, nonce), nonce, Some(&alice)).unwrap();
        assert_eq!(
            template.fill("ZyXwVuTsRqPoNmLkJiHgFe", Some(&bob)),
            page(&bob, "ZyXwVuTsRqPoNmLkJiHgFe"),
            "alice's post keeps her name; the navigation and the data are bob's"
        );
        assert!(viewer_data(&alice).contains(r#"\"username\":\"alice\""#));

        let twice = format!("{}{}", page(&alice, nonce), viewer_data(&alice));
        assert!(
            Template::cut(&twice, nonce, Some(&alice)).is_none(),
            "named twice in the data: not kept"
        );
        let unnamed = page(&alice, nonce).replace(&viewer_link(&alice), "href=\"/me\"");
        assert!(
            Template::cut(&unnamed, nonce, Some(&alice)).is_none(),
            "no link to the viewer: not kept"
        );
    }

    #[test]
    fn a_page_is_kept_until_its_earliest_part_and_never_when_a_part_refuses() {
        let mut headers = HeaderMap::new();
        assert_eq!(fit_until(&headers), None, "no part declared");
        for until in ["2000", "1000", "3000"] {
            headers.append(CACHEABLE_UNTIL_HEADER, HeaderValue::from_static(until));
        }
        assert_eq!(fit_until(&headers), Some(1000));
        headers.insert(NOT_CACHEABLE_HEADER, HeaderValue::from_static("1"));
        assert_eq!(fit_until(&headers), None);
    }

    #[test]
    fn a_profile_is_worth_keeping_from_its_second_render_and_few_are_remembered() {
        let cache = PageCache::new(1);
        let profile = |name: &str| PageKey::Shared {
            page: SharedPage::Profile(app::api::existing_username(name).unwrap()),
            viewer: Standing::SignedOut,
        };
        assert!(!cache.worth_keeping(&profile("susan")), "first render");
        assert!(cache.worth_keeping(&profile("susan")), "second render");
        assert!(
            !cache.worth_keeping(&profile("susan")),
            "counted afresh once kept"
        );
        let explore = PageKey::Shared {
            page: SharedPage::Explore,
            viewer: Standing::SignedOut,
        };
        assert!(cache.worth_keeping(&explore) && cache.worth_keeping(&home(1)));

        for n in 0..PROFILES_REMEMBERED + 10 {
            cache.worth_keeping(&profile(&format!("crawled{n}")));
        }
        assert!(cache.pages().profiles_rendered_once.len() <= PROFILES_REMEMBERED);
    }
}
