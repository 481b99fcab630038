//! Microblog: pages, components and server functions, shared by the server (feature `ssr`)
//! and the browser (feature `hydrate`).
//!
//! Server-only code lives in exactly these modules: `api`, `state`, `db`, `auth`, `flash`, `present`,
//! `respond`, `seed` and `throttle`. Page and component files hold no `cfg`.

pub mod account;
pub mod components;
pub mod domain;
pub mod error;
pub mod model;
pub mod pages;
pub mod session;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod avatars;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod flash;
#[cfg(feature = "ssr")]
pub mod present;
#[cfg(feature = "ssr")]
pub mod respond;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod throttle;

mod app;
pub use app::{App, shell};
