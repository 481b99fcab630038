//! `/metrics`, in Prometheus's text format: requests by route and status, their latency, the
//! database pools, which node served each read and how far each replica is behind.
//!
//! The `metrics` facade records; `metrics-exporter-prometheus` keeps the values and writes the
//! text. Only clients on this machine may read it (a scraper beside the server, or through a
//! tunnel): it describes the site's traffic, which is no visitor's business.

use app::state::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

const REQUEST_SECONDS: &str = "microblog_http_request_duration_seconds";

/// Upper bounds of the latency histogram's buckets: pages take about a millisecond, and the
/// 50 ms of the throughput target must be visible.
const REQUEST_SECONDS_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder; later calls (tests build many routers) reuse it.
pub fn install() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_SECONDS.to_owned()),
                &REQUEST_SECONDS_BUCKETS,
            )
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        handle
    })
}

/// Counts and times every request under its route's pattern (`/user/{username}`, never the
/// path itself, so a crawler of made-up paths cannot grow the label set).
pub async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("microblog_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "route" => route).record(started.elapsed());
    response
}

pub async fn render(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Response {
    if !client.ip().to_canonical().is_loopback() {
        return StatusCode::NOT_FOUND.into_response();
    }
    record_pool("primary", &state.pool);
    for replica in state.replicas.nodes() {
        record_pool(&replica.name, &replica.pool);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        install().render(),
    )
        .into_response()
}

fn record_pool(node: &str, pool: &PgPool) {
    let idle = pool.num_idle() as f64;
    let open = f64::from(pool.size());
    metrics::gauge!("microblog_db_connections", "node" => node.to_owned(), "state" => "idle")
        .set(idle);
    metrics::gauge!("microblog_db_connections", "node" => node.to_owned(), "state" => "in_use")
        .set(open - idle);
}
