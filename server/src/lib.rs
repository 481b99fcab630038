//! HTTP wiring of Microblog: configuration, the router and its layers, serving.

pub mod assets;
pub mod complete;
pub mod config;
pub mod csrf;
pub mod guard;
pub mod live;
pub mod page_cache;
pub mod read_floor;
pub mod serve;
pub mod telemetry;

use app::db::sessions::PostgresSessions;
use app::state::AppState;
use app::{App, shell};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use config::RequestLimits;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Posts and forms are small; anything bigger than this is refused before it is read.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Settings of every database session the server opens; see `connect`.
pub const SESSION_SETTINGS: [(&str, &str); 2] = [("jit", "off"), ("enable_memoize", "off")];

/// Under load a pooled connection is reused within milliseconds; one idle longer than this is
/// checked before use.
const CHECK_CONNECTIONS_IDLE_FOR: Duration = Duration::from_millis(250);

/// A pool that gives up quickly when the database is away, so requests fail fast with a 503
/// instead of hanging, and recovers by itself when it is back.
///
/// JIT is off: the feed's walks carry large estimated costs (the planner cannot know how soon
/// they stop), which made PostgreSQL spend 15 ms compiling a query that runs in 2 ms.
/// Memoize is off: for the 21-row pages joined to their authors, PostgreSQL sized the memoize
/// cache for all 100k users and zeroed it on every execution, which was 14 % of all CPU time
/// under load on explore; a page never looks up the same author often enough to gain from it.
///
/// `statement_timeout` bounds every statement (and a transaction left idle, which would hold its
/// locks); the seed, whose bulk loads run for many seconds, connects without it.
pub async fn connect(
    database_url: &str,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> Result<PgPool, sqlx::Error> {
    pool_options(max_connections, Duration::from_secs(3))
        .connect_with(connect_options(database_url, statement_timeout)?)
        .await
}

/// A replica's pool: like the primary's, but opened lazily, so a replica that is down when the
/// server starts does not stop it (`db::replicas` uses it once it answers), and quick to give
/// up, since a read it cannot take goes to the primary instead.
pub fn connect_replica(
    database_url: &str,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> Result<PgPool, sqlx::Error> {
    Ok(pool_options(max_connections, Duration::from_millis(500))
        .connect_lazy_with(connect_options(database_url, statement_timeout)?))
}

fn connect_options(
    database_url: &str,
    statement_timeout: Option<Duration>,
) -> Result<PgConnectOptions, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(database_url)?.options(SESSION_SETTINGS);
    if let Some(timeout) = statement_timeout {
        let millis = timeout.as_millis().to_string();
        options = options.options([
            ("statement_timeout", millis.as_str()),
            ("idle_in_transaction_session_timeout", millis.as_str()),
        ]);
    }
    Ok(options)
}

fn pool_options(max_connections: u32, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // A ping on every acquire was a round trip per query and 7 % of the server's time under
        // load, so only a connection that sat idle for a while is checked: that is the one a
        // database restart may have cut. Without the check, every such connection cost one
        // request a 503 after the database came back.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_CONNECTIONS_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

pub fn session_layer(pool: PgPool, secure: bool) -> SessionManagerLayer<PostgresSessions> {
    SessionManagerLayer::new(PostgresSessions::new(pool))
        .with_name("microblog_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(CookieDuration::days(30)))
}

/// What every request's server functions and render find in their context: pages, server
/// functions and the fallback page alike, so none of them misses a piece.
fn provide_request_context(state: &AppState) {
    provide_context(state.clone());
    app::respond::provide_page_redirect();
    app::api::provide_request_memo();
}

/// The whole application as a `Router`, so tests can drive it without a socket.
pub fn router(
    state: AppState,
    secure_cookies: bool,
    limits: RequestLimits,
    live: Arc<live::Hub>,
    kept_pages: Arc<page_cache::PageCache>,
) -> Router {
    telemetry::install();
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let provide_state = move || provide_request_context(&context_state);
    let fallback_state = state.clone();
    let sessions = session_layer(state.pool.clone(), secure_cookies);
    let kept_pages = page_cache::PageCacheState {
        cache: kept_pages,
        pool: state.pool.clone(),
        keeps_shared_pages: state.replicas.is_empty(),
    };
    let pages = Router::new()
        .route("/healthz", get(healthz))
        .route("/live/home", get(live::home_stream).layer(Extension(live)))
        .leptos_routes_with_context(&state, routes, provide_state, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || provide_request_context(&fallback_state), shell
        ))
        // Layers run bottom-up for a request: the cheapest refusals come first, and nothing
        // reaches the session store (a database read) before them. The page cache needs the
        // session.
        .layer(axum::middleware::from_fn_with_state(
            kept_pages,
            page_cache::serve,
        ))
        .layer(sessions)
        // Outside the page cache, whose pages must not carry its cookie.
        .layer(axum::middleware::from_fn_with_state(
            !state.replicas.is_empty(),
            read_floor::keep_reads_monotonic,
        ))
        .layer(axum::middleware::from_fn(guard::refuse_unknown_encodings))
        .layer(axum::middleware::from_fn(csrf::refuse_cross_site_writes))
        .layer(axum::middleware::from_fn(complete::run_to_completion))
        .layer(axum::middleware::from_fn(guard::read_whole_body))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        // Outside `run_to_completion`: a request past its time gets a 408 while its task, if it
        // got that far, still ends cleanly; a body still arriving is dropped with the request.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        ));
    // The wasm, JS and CSS skip the page machinery (sessions, tasks, rendering): they are files.
    Router::new()
        .nest_service("/pkg", assets::site_package(&state.leptos_options))
        .route_service("/favicon.ico", assets::favicon(&state.leptos_options))
        .route("/avatar/{file}", get(assets::avatar))
        .route("/metrics", get(telemetry::render))
        .merge(pages)
        .layer(axum::middleware::from_fn(telemetry::record_request))
        .layer(axum::middleware::from_fn(guard::refuse_unknown_methods))
        .layer(assets::compression())
        .layer(axum::middleware::from_fn(guard::add_security_headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(request_log())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // SetRequestIdLayer keeps an id the client sent: anyone could then choose the id their
        // request is logged under, or reuse someone else's. Ours are always minted here.
        .layer(axum::middleware::map_request(
            |mut request: axum::extract::Request| async move {
                request.headers_mut().remove("x-request-id");
                request
            },
        ))
        .with_state(state)
}

/// One line per request at the default level: method, path (never the query, which may name
/// people), status, time taken, and the request id that the response also carries in
/// `x-request-id`, so a person's report can be matched to the log.
fn request_log() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&axum::extract::Request) -> tracing::Span + Clone,
    (),
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(|request: &axum::extract::Request| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = request.uri().path(), id)
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match app::db::ping(&state.pool).await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
