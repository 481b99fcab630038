//! Driving the real router without a socket, on the fresh database of each test.
#![allow(dead_code)]

use app::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use tower::ServiceExt;

pub const SITE: &str = "http://127.0.0.1:3000";
pub const PASSWORD: &str = "correct horse battery";

/// The app on the test's fresh database, with the schema and the session table created.
pub async fn migrated_app(pool: &PgPool) -> Router {
    app::db::migrate(pool).await.expect("migrations apply");
    app(pool)
}

pub fn app(pool: &PgPool) -> Router {
    let state = AppState {
        leptos_options: LeptosOptions::builder().output_name("microblog").build(),
        pool: pool.clone(),
    };
    server::router(state, false)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("microblog_session="))
            .map(|value| value.split(';').next().unwrap().to_owned())
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
