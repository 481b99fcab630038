//! The follows and unfollows of every request of this process, made in batches.
//!
//! Under load a follow spent more on what surrounds the change than on the change: the round
//! trip, sqlx's ping when the connection goes back to the pool, the statement's start and the
//! commit. A few workers each take every change waiting when they are free and make them all
//! in one statement (`follows::change_together`): one change alone when the site is quiet, a
//! batch when it is busy, with no timer, so a follow never waits for company. Each change is
//! still answered on its own: its counts, or why it changed nothing.
//!
//! A batch that fails changes nothing. When one change may be at fault (a broken constraint),
//! or the batch met the one deadlock `r.change_follows` describes (`db/logic/follows.sql`), its changes
//! are made again alone, so one change's trouble is never another's answer. When the database
//! is away, busy or out of time, every change gets that answer at once: making each alone would
//! only fail again, later and with more load. Workers run apart from requests, so a
//! client that hangs up does not stop a change halfway.

use crate::db::follows::{
    Actor, BatchFailed, FollowChange, FollowLimits, change_one, change_together,
};
use crate::domain::Username;
use crate::error::AppError;
use crate::model::FollowState;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tracing::Instrument;

/// Workers, so PostgreSQL can make one batch while the next is being gathered and sent: with
/// one, PostgreSQL used one core at most for follows.
pub const WORKERS: usize = 2;
/// The most changes in one statement. A batch holds the rows of everyone in it locked until
/// it commits, so other writes to those people (a post, a profile edit) wait for all of it.
pub const MOST_IN_A_BATCH: usize = 64;
/// Changes waiting beyond this make their requests wait to queue, rather than pile up.
const WAITING_AT_MOST: usize = 4096;
/// Changes of a failed batch made alone at the same time, each with a connection of its own.
const ALONE_AT_ONCE: usize = 4;

/// Where the server's requests send their follows and unfollows. Cloning is cheap.
#[derive(Clone)]
pub struct FollowQueue {
    sender: mpsc::Sender<Queued>,
    tally: Arc<Tally>,
}

struct Queued {
    change: FollowChange,
    answer: oneshot::Sender<Result<FollowState, AppError>>,
    /// The request's, so that what is logged about its change alone names the request.
    span: tracing::Span,
}

/// What the workers have done, for tests and metrics.
#[derive(Default, Debug)]
struct Tally {
    batches: AtomicU64,
    changes: AtomicU64,
    largest: AtomicU64,
    failed_batches: AtomicU64,
}

/// How many batches, how many changes in them, the largest batch, and how many batches
/// failed as a whole and were made again one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchTally {
    pub batches: u64,
    pub changes: u64,
    pub largest: u64,
    pub failed_batches: u64,
}

impl FollowQueue {
    /// Starts `workers` workers on `pool`, making every change within `limits`. Call within
    /// the server's tokio runtime.
    pub fn start(pool: PgPool, workers: usize, limits: FollowLimits) -> Self {
        let (sender, receiver) = mpsc::channel(WAITING_AT_MOST);
        let receiver = Arc::new(Mutex::new(receiver));
        let tally = Arc::new(Tally::default());
        for _ in 0..workers.max(1) {
            tokio::spawn(work(pool.clone(), limits, receiver.clone(), tally.clone()));
        }
        FollowQueue { sender, tally }
    }

    /// `by` follows `username`, as `follows::follow` does it.
    pub async fn follow(
        &self,
        by: impl Into<Actor>,
        username: &Username,
    ) -> Result<FollowState, AppError> {
        self.change(FollowChange::new(by, username, true)).await
    }

    /// `by` stops following `username`, as `follows::unfollow` does it.
    pub async fn unfollow(
        &self,
        by: impl Into<Actor>,
        username: &Username,
    ) -> Result<FollowState, AppError> {
        self.change(FollowChange::new(by, username, false)).await
    }

    /// Makes `change` in the next batch and answers it.
    pub async fn change(&self, change: FollowChange) -> Result<FollowState, AppError> {
        let (answer, answered) = oneshot::channel();
        let span = tracing::Span::current();
        let queued = Queued {
            change,
            answer,
            span,
        };
        if self.sender.send(queued).await.is_err() {
            tracing::error!("the follow queue has no worker left");
            return Err(AppError::Internal);
        }
        answered.await.unwrap_or_else(|_| {
            tracing::error!("a follow worker stopped without answering");
            Err(AppError::Internal)
        })
    }

    /// Changes queued and not yet taken by a worker.
    pub fn waiting(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    pub fn tally(&self) -> BatchTally {
        BatchTally {
            batches: self.tally.batches.load(Ordering::Relaxed),
            changes: self.tally.changes.load(Ordering::Relaxed),
            largest: self.tally.largest.load(Ordering::Relaxed),
            failed_batches: self.tally.failed_batches.load(Ordering::Relaxed),
        }
    }
}

async fn work(
    pool: PgPool,
    limits: FollowLimits,
    receiver: Arc<Mutex<mpsc::Receiver<Queued>>>,
    tally: Arc<Tally>,
) {
    let mut batch = Vec::with_capacity(MOST_IN_A_BATCH);
    loop {
        // One worker at a time gathers: it waits for a first change and takes every other
        // one already waiting, while the other worker's batch runs.
        let taken = receiver
            .lock()
            .await
            .recv_many(&mut batch, MOST_IN_A_BATCH)
            .await;
        if taken == 0 {
            return;
        }
        // In a task of its own, so that a panic costs that batch its answers (each request
        // then gets a 500), not the process a worker.
        let made = tokio::spawn(make_batch(
            pool.clone(),
            limits,
            tally.clone(),
            std::mem::take(&mut batch),
        ));
        if let Err(error) = made.await {
            tracing::error!(%error, "a batch of follows failed unexpectedly");
        }
    }
}

/// Where a change's answer goes, and the request it came from.
type Reply = (
    oneshot::Sender<Result<FollowState, AppError>>,
    tracing::Span,
);

async fn make_batch(pool: PgPool, limits: FollowLimits, tally: Arc<Tally>, batch: Vec<Queued>) {
    let size = batch.len() as u64;
    tally.batches.fetch_add(1, Ordering::Relaxed);
    tally.changes.fetch_add(size, Ordering::Relaxed);
    tally.largest.fetch_max(size, Ordering::Relaxed);
    metrics::histogram!("microblog_follow_batch_size").record(size as f64);
    let (changes, replies): (Vec<FollowChange>, Vec<Reply>) = batch
        .into_iter()
        .map(|queued| (queued.change, (queued.answer, queued.span)))
        .unzip();
    match change_together(&pool, &changes, limits).await {
        Ok(outcomes) => {
            for ((answer, _), outcome) in replies.into_iter().zip(outcomes) {
                // The request may have gone; its change is made all the same.
                let _ = answer.send(outcome);
            }
        }
        Err(BatchFailed::OneChange(error)) if size > 1 => {
            tally.failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, changes = size, "a batch of follows failed; making them one by one");
            one_by_one(&pool, limits, changes, replies).await;
        }
        Err(failed) => {
            let error = AppError::from(failed);
            for (answer, _) in replies {
                let _ = answer.send(Err(error.clone()));
            }
        }
    }
}

/// Changes made alone, a few at a time: each has the connection to itself, and the others'
/// requests keep the rest of the pool.
async fn one_by_one(
    pool: &PgPool,
    limits: FollowLimits,
    changes: Vec<FollowChange>,
    replies: Vec<Reply>,
) {
    let at_once = Arc::new(Semaphore::new(ALONE_AT_ONCE));
    let mut running = tokio::task::JoinSet::new();
    for (change, (answer, span)) in changes.into_iter().zip(replies) {
        let pool = pool.clone();
        let at_once = at_once.clone();
        running.spawn(
            async move {
                let _turn = at_once.acquire().await;
                let _ = answer.send(change_one(&pool, change, limits).await);
            }
            .instrument(span),
        );
    }
    while let Some(done) = running.join_next().await {
        if let Err(error) = done {
            tracing::error!(%error, "a follow made alone failed unexpectedly");
        }
    }
}
