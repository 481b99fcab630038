//! What the page cache keeps and how it makes room: the pages by key, their render turns,
//! and which profiles are worth keeping.

use super::template::Template;
use app::db::page_stamps::PostsSnapshot;
use app::domain::Username;
use app::model::{CurrentUser, UserId};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;

/// The pages this process keeps, within a budget of bytes.
pub struct PageCache {
    pub(super) budget_bytes: usize,
    pub(super) pages: Mutex<Pages>,
}

/// Which page a kept page is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum PageKey {
    /// A reader's home page.
    Home(UserId),
    /// Explore or a profile, as everyone who stands as `viewer` sees it.
    Shared { page: SharedPage, viewer: Standing },
}

/// The pages kept once for many viewers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum SharedPage {
    Explore,
    /// The profile at `/user/{name}`, the name as the path spells it.
    Profile(Username),
}

/// How a viewer stands to a shared page: what, besides who they are, its render depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Standing {
    SignedOut,
    /// Signed in; on a profile, whether they follow its owner and whether its owner follows
    /// them (both false on explore).
    SignedIn {
        following: bool,
        followed_by: bool,
    },
}

#[derive(Default)]
pub(super) struct Pages {
    pub(super) by_key: HashMap<PageKey, Arc<KeptPage>>,
    pub(super) bytes: usize,
    /// One render at a time per page: the requests that find no page while one is being
    /// rendered wait for it and check it, rather than each rendering the same page. Sixty-four
    /// at once (one person's tabs, or a script) otherwise took the server for half a second.
    pub(super) render_turns: HashMap<PageKey, Arc<tokio::sync::Mutex<()>>>,
    /// Profiles rendered once lately, and until when a second render makes them worth keeping
    /// (unix milliseconds): see `worth_keeping`.
    pub(super) profiles_rendered_once: HashMap<PageKey, i64>,
}

/// How many profiles `profiles_rendered_once` remembers at most: a few hundred kilobytes of
/// keys, whatever a crawler walks through.
pub(super) const PROFILES_REMEMBERED: usize = 10_000;
/// A profile rendered again within this is kept (`PageCache::worth_keeping`).
pub(super) const PROFILE_AGAIN_WITHIN_MILLIS: i64 = 10_000;

/// What the database said of a page when it was rendered; a view is served the kept page only
/// while it says the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shows {
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

pub(super) struct KeptPage {
    pub(super) shows: Shows,
    /// The page shows every post visible in this snapshot; it moves up with each check that
    /// finds no newer post on it, so the next check walks only the posts of the last moments.
    pub(super) posts_complete_at: Mutex<PostsSnapshot>,
    /// Unix milliseconds.
    pub(super) until: i64,
    pub(super) kept_at: Instant,
    pub(super) headers: HeaderMap,
    pub(super) body: Template,
    /// The Content-Security-Policy, cut where its nonce is.
    pub(super) policy: Template,
    pub(super) bytes: usize,
}

impl PageCache {
    /// A cache of at most `megabytes` of pages; 0 turns it off.
    pub fn new(megabytes: usize) -> Arc<Self> {
        Arc::new(PageCache {
            budget_bytes: megabytes.saturating_mul(1024 * 1024),
            pages: Mutex::default(),
        })
    }

    pub(super) fn pages(&self) -> std::sync::MutexGuard<'_, Pages> {
        lock(&self.pages)
    }

    pub(super) fn kept(&self, key: &PageKey) -> Option<Arc<KeptPage>> {
        self.pages().by_key.get(key).cloned()
    }

    pub(super) fn render_turn(&self, key: &PageKey) -> Arc<tokio::sync::Mutex<()>> {
        self.pages()
            .render_turns
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// Drops the page's turn once nobody else holds or waits for it.
    pub(super) fn end_render_turn(&self, key: &PageKey, turn: Arc<tokio::sync::Mutex<()>>) {
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
    pub(super) fn worth_keeping(&self, key: &PageKey) -> bool {
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

    pub(super) fn forget(&self, key: &PageKey) {
        let mut pages = self.pages();
        if let Some(page) = pages.by_key.remove(key) {
            pages.bytes -= page.bytes;
        }
    }

    pub(super) fn keep(&self, key: PageKey, page: KeptPage) {
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

pub(super) fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KeptPage {
    /// The page for `viewer` (the one signed in, if anyone), with a fresh nonce.
    pub(super) fn response(&self, viewer: Option<&CurrentUser>) -> Response {
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
