//! The shape of every server function (server only): one call gets the request's context, the
//! body says only what the function exists for, and one outcome path turns its result into a
//! response (status, or redirect and message for a form posted without JavaScript). Each call
//! runs in a tracing span naming the function and, once known, the signed-in user.
//!
//! ```ignore
//! api::read("explore", async |request| {
//!     db::posts::explore(&request.reads().await?, page).await
//! })
//! .await
//! ```

use crate::db::replicas::{self, ReadNode, Replicas, RequestReads};
use crate::db::users::SignedIn;
use crate::domain::Username;
use crate::error::AppError;
use crate::model::UserId;
use crate::{auth, respond, state};
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use tower_sessions::Session;
use tracing::Instrument;

/// What a server function gets from its request.
pub struct Request {
    /// The primary: writes, and reads that must see everything (see `reads`).
    pub pool: PgPool,
    pub session: Session,
    replicas: Arc<Replicas>,
    /// The replica `reads` handed out, so `read` can run the work again on the primary if it
    /// failed there.
    replica_used: Arc<OnceLock<String>>,
    primary_only: bool,
    memo: RequestMemo,
    /// Whether this part of the page said if it may be kept (`page_part_cacheable`); `read`
    /// refuses for a part that did not.
    cacheability_declared: Arc<AtomicBool>,
}

/// What one HTTP request has already read, for the other server functions of the same
/// request: a page runs several (the signed-in user, then the feed) while rendering.
#[derive(Clone, Default)]
pub struct RequestMemo {
    signed_in: Arc<OnceLock<(UserId, Option<SignedIn>)>>,
}

/// Gives each HTTP request its own memo; call from the context of every request. It starts
/// with the signed-in user when the server read them before rendering (the page cache does)
/// and left them in the request's extensions.
pub fn provide_request_memo() {
    let memo = RequestMemo::default();
    if let Some(signed_in) = leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<SignedIn>().cloned())
    {
        let _ = memo.signed_in.set((signed_in.user.id, Some(signed_in)));
    }
    leptos::prelude::provide_context(memo);
}

impl Request {
    async fn load() -> Result<Self, AppError> {
        Ok(Request {
            pool: state::pool()?,
            session: auth::session().await?,
            replicas: state::replicas()?,
            replica_used: Arc::default(),
            primary_only: false,
            memo: leptos::prelude::use_context().unwrap_or_default(),
            cacheability_declared: Arc::default(),
        })
    }

    /// The same request, reading only from the primary.
    fn clone_for_retry(&self) -> Self {
        Request {
            pool: self.pool.clone(),
            session: self.session.clone(),
            replicas: self.replicas.clone(),
            replica_used: Arc::default(),
            primary_only: true,
            memo: self.memo.clone(),
            cacheability_declared: Arc::default(),
        }
    }

    /// The signed-in user, if any. Read from the session only when asked for, so functions
    /// that do not care cost no session lookup.
    pub async fn viewer(&self) -> Result<Option<UserId>, AppError> {
        let viewer = auth::signed_in_user_id(&self.session).await?;
        if let Some(id) = viewer {
            tracing::Span::current().record("user_id", id.get());
        }
        Ok(viewer)
    }

    /// The signed-in user's account as pages show it, read from the primary (it refreshes
    /// `last_seen`) once per HTTP request however many server functions ask.
    pub async fn signed_in(&self) -> Result<Option<SignedIn>, AppError> {
        let Some(id) = self.viewer().await? else {
            return Ok(None);
        };
        if let Some((read_for, signed_in)) = self.memo.signed_in.get()
            && *read_for == id
        {
            return Ok(signed_in.clone());
        }
        let signed_in = crate::db::users::current_user(&self.pool, id).await?;
        let _ = self.memo.signed_in.set((id, signed_in.clone()));
        Ok(signed_in)
    }

    /// Whether every read so far went to the primary.
    pub fn reads_went_to_primary(&self) -> bool {
        self.replica_used.get().is_none()
    }

    /// Declares this request's part of the page fit to be served again (server/src/page_cache/)
    /// while the relative times of the moments `shown` read as they did at `now`, if it read
    /// only from the primary: kept pages are checked against the primary, which a replica may
    /// not have caught up with. Take `now` before the reads, so a text about to change ("59
    /// seconds ago") is not taken for one that lasts.
    pub fn page_part_cacheable(
        &self,
        shown: impl IntoIterator<Item = time::OffsetDateTime>,
        now: time::OffsetDateTime,
    ) {
        self.cacheability_declared.store(true, Ordering::Relaxed);
        if self.reads_went_to_primary() {
            respond::page_cacheable_until(respond::relative_times_unchanged_until(shown, now));
        } else {
            respond::page_not_cacheable();
        }
    }

    /// How many people `me` follows, if this request has already read their account.
    pub fn known_following_count(&self, me: UserId) -> Option<i64> {
        match self.memo.signed_in.get() {
            Some((read_for, Some(signed_in))) if *read_for == me => Some(signed_in.following_count),
            _ => None,
        }
    }

    /// The signed-in user, or 401 "Please sign in to do that.".
    pub async fn me(&self) -> Result<UserId, AppError> {
        self.viewer().await?.ok_or_else(AppError::sign_in_required)
    }

    /// Runs `change`, a statement that checks the session itself, as the signed-in user by
    /// their `auth::SessionClaim`: without loading the session when a follow in this process
    /// has loaded it before. Or 401. A claim the statement refuses (its session has ended) is
    /// forgotten, so the next request with it loads the session and is refused there.
    pub async fn claimed<T>(
        &self,
        change: impl AsyncFnOnce(&auth::SessionClaim) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let seen = state::signed_in_sessions()?;
        let claim = match seen.known_claim(&self.session) {
            Some(claim) => claim,
            None => seen
                .remember_claim(&self.session, self.me().await?)
                .ok_or_else(AppError::sign_in_required)?,
        };
        tracing::Span::current().record("user_id", claim.user_id.get());
        let outcome = change(&claim).await;
        if matches!(outcome, Err(AppError::Unauthorized(_))) {
            seen.forget_claim(&claim);
        }
        outcome
    }

    /// Where this request's reads go: the node its first read chose (`RequestReads`), else a
    /// replica that has replayed this person's last change and everything their earlier
    /// requests saw, else the primary. For statements that only read; anything that writes
    /// uses `pool`.
    pub async fn reads(&self) -> Result<PgPool, AppError> {
        Ok(self.reads_node().await?.pool)
    }

    /// The node `reads` gives, and whether it is the primary.
    pub async fn reads_node(&self) -> Result<ReadNode, AppError> {
        let request_reads = request_reads();
        let node = match (
            &request_reads,
            self.replicas.is_empty() || self.primary_only,
        ) {
            (_, true) => ReadNode::primary(&self.pool),
            (Some(reads), false) if reads.pinned().is_some() => reads
                .pinned()
                .unwrap_or_else(|| ReadNode::primary(&self.pool)),
            (_, false) => {
                let last_change = auth::last_change(&self.session).await?;
                let floor = request_reads.as_ref().and_then(|reads| reads.floor);
                let at_least = last_change.max(floor);
                self.replicas
                    .for_reader(at_least)
                    .map_or_else(|| ReadNode::primary(&self.pool), ReadNode::replica)
            }
        };
        let node = match &request_reads {
            Some(reads) if self.primary_only => {
                reads.pin_primary(&self.pool);
                node
            }
            Some(reads) => reads.pin(node),
            None => node,
        };
        if !node.is_primary() {
            let _ = self.replica_used.set(node.name.clone());
        }
        metrics::counter!("microblog_db_reads_total", "node" => node.name.clone()).increment(1);
        Ok(node)
    }

    /// Reads from the primary, for the rest of this request: what the person asked to see
    /// afresh (the live banner's "N new posts", announced by the primary).
    pub fn read_from_primary(&mut self) {
        self.primary_only = true;
    }
}

/// This HTTP request's `RequestReads`, which server/src/read_floor.rs puts in every request
/// when replicas serve reads.
fn request_reads() -> Option<Arc<RequestReads>> {
    leptos::prelude::use_context::<http::request::Parts>()?
        .extensions
        .get::<Arc<RequestReads>>()
        .cloned()
}

/// A username as it arrives in a URL or a form field naming someone: parsed once, here. A name
/// no account can have is simply not found.
pub fn existing_username(text: &str) -> Result<Username, AppError> {
    match Username::parse(text) {
        // Parsing trims, which suits a form; a name in a URL must be the name itself.
        Ok(username) if username.as_str() == text => Ok(username),
        _ => Err(AppError::user_not_found(text)),
    }
}

fn span(name: &'static str) -> tracing::Span {
    tracing::info_span!("server_fn", name, user_id = tracing::field::Empty)
}

/// 4xx are the person's to fix and logged quietly; a 5xx's cause was logged where it arose.
fn log_failure<T>(result: &Result<T, AppError>) {
    if let Err(error) = result {
        match error.status_code() {
            500.. => tracing::warn!(status = error.status_code(), %error, "failed"),
            status => tracing::info!(status, %error, "refused"),
        }
    }
}

/// A server function that only reads: an error keeps its status code. Its work may run twice:
/// once more on the primary when it failed on a replica (which may have just gone away).
pub async fn read<T>(
    name: &'static str,
    work: impl AsyncFnOnce(Request) -> Result<T, AppError> + Clone,
) -> Result<T, AppError> {
    async move {
        let result = async {
            let request = Request::load().await?;
            let replica_used = request.replica_used.clone();
            let primary = request.clone_for_retry();
            let mut declared = request.cacheability_declared.clone();
            let work_again = work.clone();
            let result = match work(request).await {
                Err(error) if error.status_code() >= 500 && replica_used.get().is_some() => {
                    tracing::warn!(node = replica_used.get(), %error, "read failed on a replica; reading from the primary");
                    declared = primary.cacheability_declared.clone();
                    work_again(primary).await
                }
                result => result,
            };
            // A page is kept only when every part of it says it may be: a part that shows
            // something and says nothing could otherwise be served stale.
            if !declared.load(Ordering::Relaxed) {
                respond::page_not_cacheable();
            }
            result
        }
        .await;
        log_failure(&result);
        respond::with_status(result)
    }
    .instrument(span(name))
    .await
}

/// A server function that changes something. `message` is what to tell the person on success;
/// `go_to` is where they go on success (default: back where they came from).
pub async fn change<T>(
    name: &'static str,
    message: impl FnOnce(&T) -> Option<String>,
    go_to: Option<String>,
    work: impl AsyncFnOnce(Request) -> Result<T, AppError>,
) -> Result<T, AppError> {
    async move {
        let result = async {
            let request = Request::load().await?;
            let session = request.session.clone();
            let replicas = request.replicas.clone();
            let primary = request.pool.clone();
            let done = work(request).await?;
            if !replicas.is_empty() {
                remember_change(&session, &primary).await?;
            }
            Ok(done)
        }
        .await;
        log_failure(&result);
        respond::finish(result, message, go_to).await
    }
    .instrument(span(name))
    .await
}

/// Keeps the position of a change just made in the person's session, so their next reads
/// wait for a replica that has it. Should the position be unreadable, the session asks for
/// the primary until the next change: better a busier primary than a person not seeing
/// their own change.
async fn remember_change(session: &Session, primary: &PgPool) -> Result<(), AppError> {
    let position = replicas::write_position(primary)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the primary's log position after a change");
            replicas::WalPosition::MAX
        });
    auth::remember_change(session, position).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_in_a_url_is_found_only_as_it_is() {
        assert_eq!(existing_username("john").unwrap().as_str(), "john");
        assert_eq!(
            existing_username(" john"),
            Err(AppError::NotFound("There is no user by that name.".into()))
        );
        assert_eq!(
            existing_username("<b>"),
            Err(AppError::NotFound("There is no user by that name.".into()))
        );
    }
}
