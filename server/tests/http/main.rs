//! The real router on a fresh database per test, driven without a socket. One test binary, so
//! the server is linked once.

mod accounts_and_pages;
mod bad_input;
mod common;
mod hardening;
mod live;
mod page_cache;
mod sessions_and_limits;
mod shared_pages;
