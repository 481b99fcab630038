//! Reads on PostgreSQL streaming replicas, never older than the reader's own last change.
//!
//! The primary takes every write. After a person's change, the primary's WAL position is kept
//! in their session (`api::change`), and their reads go only to a replica whose replay has
//! passed that position, as last seen by the watcher below; otherwise to the primary. The
//! decision is made per replica, for the replica the read actually uses: one replica having
//! caught up says nothing about another (GitLab's issue 413203 was exactly that mistake).
//!
//! A replica is used only while the watcher reaches it and it is at most `max_lag` behind; a
//! read that fails on a replica anyway (it died between two looks) is run again on the primary
//! (`api::read`), so a replica going away costs no one an error page.

use sqlx::PgPool;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A position in the primary's write-ahead log, in bytes from its start.
pub type WalPosition = i64;

/// The node a read is served by, as `/metrics` names it.
pub const PRIMARY: &str = "primary";

/// How often the watcher looks at every replica, which bounds how long reads keep going to
/// one that stopped (plus a look's own timeout).
pub const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Bytes of WAL a replica may lack and still count as caught up (a page header is 24 or 40).
const CAUGHT_UP_SLACK: WalPosition = 64;

/// A look at a replica that takes longer than this counts as the replica being unreachable.
const LOOK_TIMEOUT: Duration = Duration::from_millis(500);

pub struct Replica {
    /// `replica1`, `replica2`…: the order of `MICROBLOG_REPLICA_URLS`, never the address.
    pub name: String,
    pub pool: PgPool,
    /// What the replica had replayed at the watcher's last look; -1 before the first look.
    replayed: AtomicI64,
    usable: AtomicBool,
    /// When the replica was last seen holding everything the primary had written.
    caught_up_at: Mutex<Option<Instant>>,
}

impl Replica {
    pub fn new(name: String, pool: PgPool) -> Self {
        Replica {
            name,
            pool,
            replayed: AtomicI64::new(-1),
            usable: AtomicBool::new(false),
            caught_up_at: Mutex::new(None),
        }
    }

    fn serves(&self, written_at: Option<WalPosition>) -> bool {
        self.usable.load(Ordering::Acquire)
            && written_at.is_none_or(|position| self.replayed.load(Ordering::Acquire) >= position)
    }
}

/// The replicas of this process, empty when `MICROBLOG_REPLICA_URLS` is.
#[derive(Default)]
pub struct Replicas {
    nodes: Vec<Replica>,
    max_lag: Duration,
    next: AtomicUsize,
}

impl Replicas {
    pub fn new(nodes: Vec<Replica>, max_lag: Duration) -> Self {
        Replicas {
            nodes,
            max_lag,
            next: AtomicUsize::new(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[Replica] {
        &self.nodes
    }

    /// A replica that may serve a reader whose last change was written at `written_at` (none:
    /// any healthy replica), taking turns among those that qualify; `None` means the primary.
    pub fn for_reader(&self, written_at: Option<WalPosition>) -> Option<&Replica> {
        let count = self.nodes.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| &self.nodes[(start + offset) % count])
            .find(|replica| replica.serves(written_at))
    }

    /// Looks at every replica every `WATCH_EVERY`, for the life of the process.
    pub async fn watch(self: Arc<Self>, primary: PgPool) {
        let mut ticks = tokio::time::interval(WATCH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // The primary first: a replica that has replayed this much afterwards was caught
            // up at this moment at least.
            let sampled_at = Instant::now();
            let primary_position = tokio::time::timeout(LOOK_TIMEOUT, write_position(&primary))
                .await
                .ok()
                .and_then(Result::ok);
            for replica in &self.nodes {
                self.look_at(replica, primary_position, sampled_at).await;
            }
        }
    }

    async fn look_at(
        &self,
        replica: &Replica,
        primary_position: Option<WalPosition>,
        sampled_at: Instant,
    ) {
        let look = tokio::time::timeout(LOOK_TIMEOUT, replay_position(&replica.pool)).await;
        let replayed = match look {
            Ok(Ok(Some(position))) => position,
            Ok(Ok(None)) => {
                self.set_usable(replica, false, "it is not a standby (promoted?)");
                return;
            }
            Ok(Err(_)) | Err(_) => {
                self.set_usable(replica, false, "it cannot be reached");
                return;
            }
        };
        replica.replayed.store(replayed, Ordering::Release);
        let lag = {
            let mut caught_up_at = replica
                .caught_up_at
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Within a record header of the primary's insert position counts as caught up: at
            // a page boundary that position is past the next page's header, which replay never
            // reaches until more is written. (Readers' own positions get no such slack.)
            if primary_position.is_some_and(|primary| replayed + CAUGHT_UP_SLACK >= primary) {
                *caught_up_at = Some(sampled_at);
            }
            caught_up_at.map_or(Duration::MAX, |at| at.elapsed())
        };
        let lag_seconds = if lag == Duration::MAX {
            f64::INFINITY
        } else {
            lag.as_secs_f64()
        };
        metrics::gauge!("microblog_replica_lag_seconds", "node" => replica.name.clone())
            .set(lag_seconds);
        if lag > self.max_lag {
            self.set_usable(replica, false, "it is too far behind the primary");
        } else {
            self.set_usable(replica, true, "it has caught up");
        }
    }

    fn set_usable(&self, replica: &Replica, usable: bool, because: &str) {
        let was = replica.usable.swap(usable, Ordering::AcqRel);
        match (was, usable) {
            (false, true) => {
                tracing::info!(node = replica.name, "reading from the replica: {because}")
            }
            (true, false) => tracing::warn!(
                node = replica.name,
                "not reading from the replica: {because}"
            ),
            _ => {}
        }
        metrics::gauge!("microblog_replica_usable", "node" => replica.name.clone())
            .set(f64::from(u8::from(usable)));
    }
}

/// Where the primary's log ends now: a change committed before this call is at or before it.
/// The insert position rather than the flushed one, because with asynchronous commit a commit
/// record may not be flushed yet.
/// (A `sqlx::Error`, not an `AppError`: the watcher looks every 200 ms and logs only changes.)
pub async fn write_position(primary: &PgPool) -> Result<WalPosition, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS "position!""#
    )
    .fetch_one(primary)
    .await
}

/// The node one HTTP request reads from, and what the person's earlier requests saw.
///
/// Every read of a request goes to the first node chosen for it, so one page never mixes a
/// replica's view with another node's. And a person never sees the site go backwards: after
/// each request the node's position (`seen_up_to`) is sent back to the browser as the *read
/// floor* (server/src/read_floor.rs), and their next requests read only from a node that has
/// replayed at least that far, as for their own last change.
#[derive(Debug, Default)]
pub struct RequestReads {
    /// What this person's earlier requests saw, if the browser said.
    pub floor: Option<WalPosition>,
    node: std::sync::Mutex<Option<ReadNode>>,
}

/// A node a request reads from.
#[derive(Debug, Clone)]
pub struct ReadNode {
    /// `primary`, `replica1`…, as `/metrics` names it.
    pub name: String,
    pub pool: PgPool,
    is_primary: bool,
}

impl ReadNode {
    pub fn primary(pool: &PgPool) -> Self {
        ReadNode {
            name: PRIMARY.to_owned(),
            pool: pool.clone(),
            is_primary: true,
        }
    }

    pub fn replica(replica: &Replica) -> Self {
        ReadNode {
            name: replica.name.clone(),
            pool: replica.pool.clone(),
            is_primary: false,
        }
    }

    pub fn is_primary(&self) -> bool {
        self.is_primary
    }
}

impl RequestReads {
    pub fn new(floor: Option<WalPosition>) -> Self {
        RequestReads {
            floor,
            node: std::sync::Mutex::default(),
        }
    }

    fn node(&self) -> std::sync::MutexGuard<'_, Option<ReadNode>> {
        self.node
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The node this request already reads from, if any.
    pub fn pinned(&self) -> Option<ReadNode> {
        self.node().clone()
    }

    /// Reads from `chosen` from now on, unless another part of the request chose first: the
    /// node every read of the request then goes to.
    pub fn pin(&self, chosen: ReadNode) -> ReadNode {
        self.node().get_or_insert(chosen).clone()
    }

    /// Reads from the primary from now on, whatever was chosen before (a read that failed on
    /// a replica is run again there, and a page served from the cache was checked there).
    pub fn pin_primary(&self, primary: &PgPool) {
        *self.node() = Some(ReadNode::primary(primary));
    }

    /// How far the request's node has come now: at least as far as anything its reads saw.
    /// `None` when it read nothing, or the node cannot say.
    pub async fn seen_up_to(&self) -> Option<WalPosition> {
        let node = self.pinned()?;
        let position = if node.is_primary {
            write_position(&node.pool)
                .await
                .map(|at| Some(without_page_header(at)))
        } else {
            replay_position(&node.pool).await
        };
        position.ok().flatten()
    }
}

/// WAL pages are 8 KiB, each starting with a header (40 bytes on a segment's first page, 24
/// on the others). Right after one, the insert position counts a header that a standby only
/// replays with the next record, so a floor there would keep an idle site's readers off a
/// standby that has everything. No record is that short, so none is left out.
fn without_page_header(position: WalPosition) -> WalPosition {
    const PAGE: WalPosition = 8192;
    const SEGMENT: WalPosition = 16 * 1024 * 1024;
    if position % SEGMENT == 40 {
        position - 40
    } else if position % PAGE == 24 {
        position - 24
    } else {
        position
    }
}

/// How far a standby has replayed the primary's log; `None` if it is not a standby.
async fn replay_position(replica: &PgPool) -> Result<Option<WalPosition>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT CASE WHEN pg_is_in_recovery()
                       THEN (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint END AS position"#
    )
    .fetch_one(replica)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(name: &str, replayed: WalPosition, usable: bool) -> Replica {
        let pool = PgPool::connect_lazy("postgres://nobody@127.0.0.1:9/none").unwrap();
        let replica = Replica::new(name.to_owned(), pool);
        replica.replayed.store(replayed, Ordering::Release);
        replica.usable.store(usable, Ordering::Release);
        replica
    }

    fn chosen(replicas: &Replicas, written_at: Option<WalPosition>) -> Vec<String> {
        (0..4)
            .filter_map(|_| replicas.for_reader(written_at))
            .map(|replica| replica.name.clone())
            .collect()
    }

    #[tokio::test]
    async fn a_reader_is_sent_only_to_a_replica_that_has_their_last_change() {
        let replicas = Replicas::new(
            vec![replica("behind", 100, true), replica("ahead", 300, true)],
            Duration::from_secs(5),
        );
        // Not "any replica has caught up": the one used must have.
        assert_eq!(chosen(&replicas, Some(200)), ["ahead"; 4]);
        assert_eq!(chosen(&replicas, Some(300)), ["ahead"; 4]);
        assert!(chosen(&replicas, Some(301)).is_empty(), "the primary, then");
        // Someone with no change of their own may read either, in turn.
        let mut anyone = chosen(&replicas, None);
        anyone.sort();
        assert_eq!(anyone, ["ahead", "ahead", "behind", "behind"]);
    }

    #[tokio::test]
    async fn an_unusable_replica_serves_no_one() {
        let replicas = Replicas::new(vec![replica("down", 1_000, false)], Duration::from_secs(5));
        assert!(chosen(&replicas, None).is_empty());
        assert!(chosen(&replicas, Some(1)).is_empty());
        assert!(Replicas::default().for_reader(None).is_none());
    }
}
