//! Driving the real router without a socket, on the fresh database of each test.

use app::db::follow_queue::{self, FollowQueue};
use app::db::follows::FollowLimits;
use app::state::AppState;
use app::throttle::{SignInThrottle, ThrottleSettings};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use server::config::RequestLimits;
use sqlx::PgPool;
use std::sync::Arc;
use tower::ServiceExt;

pub const SITE: &str = "http://127.0.0.1:3000";
pub const PASSWORD: &str = "correct horse battery";

/// The app on the test's fresh database, with the schema and the session table created.
pub async fn migrated_app(pool: &PgPool) -> Router {
    app::db::migrate(pool).await.expect("migrations apply");
    app(pool)
}

pub fn app(pool: &PgPool) -> Router {
    app_with_throttle(pool, generous_throttle())
}

/// Tests register and sign in many people from one address (none, in fact): only the tests of
/// the limits themselves run with the production ones.
pub fn generous_throttle() -> ThrottleSettings {
    ThrottleSettings {
        per_address_per_minute: 100_000,
        per_account_burst: 100_000,
        account_refill_seconds: 1,
    }
}

pub fn app_with_throttle(pool: &PgPool, throttle: ThrottleSettings) -> Router {
    app_with(
        pool,
        Process {
            throttle,
            ..Process::default()
        },
    )
}

/// A server process that keeps no page: every view is rendered.
pub fn app_keeping_no_pages(pool: &PgPool) -> Router {
    app_with(
        pool,
        Process {
            page_megabytes: 0,
            ..Process::default()
        },
    )
}

/// How a test's server process is set up; `Default` is `app`'s.
pub struct Process {
    pub throttle: ThrottleSettings,
    pub follow_limits: FollowLimits,
    pub page_megabytes: usize,
    /// Reads may go to a "replica" that is the primary itself, which the watcher never looks
    /// at, so every read still goes to the primary, while every change records its log
    /// position in the session as with real replicas.
    pub remembers_changes: bool,
    /// The sessions this process has seen signed in, for tests that look at them.
    pub signed_in_sessions: Arc<app::auth::SignedInSessions>,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            throttle: generous_throttle(),
            follow_limits: FollowLimits::NONE,
            page_megabytes: server::page_cache::DEFAULT_MEGABYTES,
            remembers_changes: false,
            signed_in_sessions: Arc::default(),
        }
    }
}

pub fn app_with(pool: &PgPool, process: Process) -> Router {
    let replicas = match process.remembers_changes {
        true => vec![app::db::replicas::Replica::new(
            "replica1".into(),
            pool.clone(),
        )],
        false => Vec::new(),
    };
    let state = AppState {
        leptos_options: LeptosOptions::builder().output_name("microblog").build(),
        pool: pool.clone(),
        sign_in_throttle: SignInThrottle::new(process.throttle),
        signed_in_sessions: process.signed_in_sessions,
        replicas: Arc::new(app::db::replicas::Replicas::new(
            replicas,
            std::time::Duration::from_secs(5),
        )),
        follows: FollowQueue::start(pool.clone(), follow_queue::WORKERS, process.follow_limits),
    };
    let live = server::live::Hub::start(pool.clone(), server::live::LiveLimits::default());
    let page_cache = server::page_cache::PageCache::new(process.page_megabytes);
    server::router(state, false, RequestLimits::default(), live, page_cache)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("microblog_session")
    }

    /// The `name=value` part of the `Set-Cookie` header for cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie_header(name)
            .map(|value| value.split(';').next().unwrap().to_owned())
    }

    /// The whole `Set-Cookie` header for cookie `name`, attributes included.
    pub fn set_cookie_header(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

/// A form POST the way the hydrated app sends it: same-origin, expecting data back.
pub fn form_post(path: &str, cookie: Option<&str>) -> axum::http::request::Builder {
    let mut request = Request::post(path)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, SITE)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request
}

/// A form POST the way a browser sends it without JavaScript, from the page at `from_path`.
pub fn plain_form_post(
    path: &str,
    from_path: &str,
    cookie: Option<&str>,
    form: &str,
) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ORIGIN, SITE)
        .header(header::REFERER, format!("{SITE}{from_path}"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(form.to_owned())).unwrap()
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn call(router: &Router, path: &str, form: &str, cookie: Option<&str>) -> Reply {
    send(
        router,
        form_post(path, cookie)
            .body(Body::from(form.to_owned()))
            .unwrap(),
    )
    .await
}

pub async fn register(router: &Router, name: &str) -> String {
    let form = format!(
        "username={name}&email={name}%40example.com&password=correct+horse+battery&password2=correct+horse+battery"
    );
    let reply = call(router, "/api/register", &form, None).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "register {name}: {}",
        reply.body
    );
    assert_eq!(
        reply.body, "\"Congratulations, you are now a registered user!\"",
        "the welcome the page shows"
    );
    reply.session_cookie().expect("registering signs in")
}

pub async fn links(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM followers")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn signed_in_as(router: &Router, cookie: &str) -> Option<String> {
    let reply = call(router, "/api/current_user", "", Some(cookie)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let user: Option<serde_json::Value> = serde_json::from_str(&reply.body).unwrap();
    user.map(|user| user["username"].as_str().unwrap().to_owned())
}

/// A page as a browser asks for it (`Accept: text/html`), signed in when `cookie` is given.
pub async fn get_page(router: &Router, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::get(path)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ACCEPT, "text/html,application/xhtml+xml");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

pub async fn sessions(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// One person using the site through the router, signed in when they hold a session cookie.
/// A method per endpoint, sent the way the hydrated app sends it, so tests read as what people
/// do: `john.follow("susan")`.
pub struct Visitor {
    router: Router,
    pub cookie: Option<String>,
}

impl Visitor {
    pub fn signed_out(router: &Router) -> Self {
        Visitor {
            router: router.clone(),
            cookie: None,
        }
    }

    /// Registers `name` (password `PASSWORD`), which signs them in.
    pub async fn registered(router: &Router, name: &str) -> Self {
        Visitor {
            router: router.clone(),
            cookie: Some(register(router, name).await),
        }
    }

    /// The server process this visitor uses.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The same person, using another server process that shares the database.
    pub fn on(&self, router: &Router) -> Self {
        Visitor {
            router: router.clone(),
            cookie: self.cookie.clone(),
        }
    }

    /// A server function called as the hydrated app calls it.
    pub async fn call(&self, path: &str, form: &str) -> Reply {
        call(&self.router, path, form, self.cookie.as_deref()).await
    }

    /// Signs in; on success the visitor holds the new session cookie.
    pub async fn login(&mut self, name: &str, password: &str) -> Reply {
        let form = format!("username={name}&password={}", password.replace(' ', "+"));
        let reply = self.call("/api/login", &form).await;
        if let Some(cookie) = reply.session_cookie() {
            self.cookie = Some(cookie);
        }
        reply
    }

    pub async fn logout(&self) -> Reply {
        self.call("/api/logout", "").await
    }

    pub async fn follow(&self, name: &str) -> Reply {
        self.call("/api/follow", &format!("username={name}")).await
    }

    pub async fn unfollow(&self, name: &str) -> Reply {
        self.call("/api/unfollow", &format!("username={name}"))
            .await
    }

    /// Takes `username` and the about text `about_me` (both sent as they are, so callers
    /// encode them); the edit must succeed.
    pub async fn edit_profile(&self, username: &str, about_me: &str) {
        let reply = self
            .call(
                "/api/edit_profile",
                &format!("username={username}&about_me={about_me}"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// A post; `body` is sent as it is, so callers encode it.
    pub async fn post(&self, body: &str) -> Reply {
        self.call("/api/create_post", &format!("body={body}")).await
    }

    /// A page as a browser asks for it.
    pub async fn page(&self, path: &str) -> Reply {
        get_page(&self.router, path, self.cookie.as_deref()).await
    }

    /// Opens the live home feed (`/live/home`), as the home page does; `last_event_id` as a
    /// reconnecting browser sends it.
    pub async fn live_feed(&self, last_event_id: Option<&str>) -> axum::response::Response {
        let mut request = Request::get("/live/home")
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::ACCEPT, "text/event-stream");
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        self.router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .expect("the router answers")
    }

    /// Who the server thinks this visitor is.
    pub async fn signed_in_as(&self) -> Option<String> {
        match &self.cookie {
            Some(cookie) => signed_in_as(&self.router, cookie).await,
            None => None,
        }
    }
}

/// Posts made two hours earlier than they were: a page showing "5 seconds ago" is kept only
/// until that text changes, so on a slow machine a kept page could be rendered again. Hours
/// ago, it stays the same for a kept page's whole minute.
pub async fn age_all_posts(pool: &PgPool) {
    sqlx::query("UPDATE posts SET created_at = created_at - interval '2 hours'")
        .execute(pool)
        .await
        .unwrap();
}

/// Everyone last seen two hours earlier than they were, for the same reason (a profile shows
/// "Last seen").
pub async fn age_last_seen(pool: &PgPool) {
    sqlx::query("UPDATE users SET last_seen = last_seen - interval '2 hours'")
        .execute(pool)
        .await
        .unwrap();
}
