//! The site's files: the wasm bundle, its JS glue, the stylesheet, the favicon and avatars.
//!
//! cargo-leptos writes them content-hashed (`microblog.<hash>.wasm`) and precompressed (`.br`,
//! `.gz`) when the release build runs with `hash-files` and `--precompress`, so a browser keeps
//! them for a year and never asks again, and each is compressed once, at build time, at the
//! best ratio. Pages and server-function answers are compressed as they are sent.

use axum::http::{HeaderValue, header};
use leptos::config::LeptosOptions;
use tower::Layer;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

/// A hashed name changes with its content, so the file may be kept forever; without hashing
/// (a debug build) it must be checked on every use.
fn cache_control(options: &LeptosOptions) -> HeaderValue {
    if options.hash_files {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("no-cache")
    }
}

/// `/pkg/…`: the files cargo-leptos built.
pub fn site_package(options: &LeptosOptions) -> SetResponseHeader<ServeDir, HeaderValue> {
    let dir = format!("{}/{}", options.site_root, options.site_pkg_dir);
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, cache_control(options)).layer(
        ServeDir::new(dir)
            .precompressed_br()
            .precompressed_gzip()
            .append_index_html_on_directories(false),
    )
}

/// `/favicon.ico`, which browsers ask for on every first visit: a file, not a 404 page that
/// costs a render and a session lookup. It may change between releases, so a day only.
pub fn favicon(options: &LeptosOptions) -> SetResponseHeader<ServeFile, HeaderValue> {
    SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    )
    .layer(ServeFile::new(format!("{}/favicon.ico", options.site_root)))
}

/// Pages and JSON, compressed as they go out. The fastest level: a page is 5-20 KB of very
/// repetitive HTML, where it already saves most of the bytes, and the CPU it costs comes out of
/// the pages served per second. Files sent precompressed already carry a Content-Encoding and
/// are left as they are.
pub fn compression() -> CompressionLayer {
    CompressionLayer::new().quality(CompressionLevel::Fastest)
}

/// `/avatar/{hash}.svg`: a person's identicon (`app::avatars`). Its name says exactly what it
/// draws, so it is kept for a year; a name no avatar has is a 404.
pub async fn avatar(
    axum::extract::Path(file_name): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match app::avatars::identicon_svg(&file_name) {
        Some(svg) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            svg,
        )
            .into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "There is no such avatar.",
        )
            .into_response(),
    }
}
