//! Microblog: pages, components and server functions, shared by the server (feature `ssr`)
//! and the browser (feature `hydrate`).
//!
//! Server-only code lives in exactly these modules: `state`, `db`, `auth`, `present`,
//! `respond` and `seed`. Page and component files hold no `cfg`.

pub mod components;
pub mod domain;
pub mod error;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod present;
#[cfg(feature = "ssr")]
pub mod respond;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod state;

mod app;
pub use app::{App, shell};
