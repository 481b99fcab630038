//! One-time outcome messages carried across a redirect in a short-lived cookie (server only).
//!
//! A form posted without JavaScript is answered with a 303 back to a page, and that page must
//! say what happened ("You are following susan!", "Invalid username or password."). Keeping the
//! message in the database session made every error shown to a signed-out visitor create a
//! session row, so anyone could grow the sessions table with a loop of bad sign-ins. A cookie
//! costs the server nothing: it lives a minute and is removed by the page that shows it.
//!
//! The message is not signed. Someone who can set cookies for this site can only make a person
//! see a sentence of their choosing, shown as text like every other text.

use crate::model::Flash;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, header, request::Parts};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

const COOKIE: &str = "microblog_flash";
/// Long enough to survive the redirect on a slow connection, short enough not to reappear later.
const LIFETIME_SECONDS: u32 = 60;
/// Our own messages are a sentence; a cookie holding more was not written by us.
const MAX_ENCODED_LEN: usize = 1024;

/// Shows `flash` on the next page this browser loads.
pub fn keep_for_next_page(flash: Flash) {
    let Ok(json) = serde_json::to_vec(&flash) else {
        return;
    };
    let value = URL_SAFE_NO_PAD.encode(json);
    set_cookie(&format!(
        "{COOKIE}={value}; Path=/; Max-Age={LIFETIME_SECONDS}; HttpOnly; SameSite=Lax"
    ));
}

/// The message kept for this page, if any; it is removed from the browser as it is read.
pub fn take() -> Option<Flash> {
    let parts = use_context::<Parts>()?;
    let value = waiting(&parts.headers)?.to_owned();
    set_cookie(&format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    ));
    decode(&value)
}

/// The message cookie a request carries, as sent (encoded); a page that has one shows it, and
/// so is not the same page twice (the page cache does not keep it).
pub fn waiting(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn decode(value: &str) -> Option<Flash> {
    if value.len() > MAX_ENCODED_LEN {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(value).ok()?;
    serde_json::from_slice(&json).ok()
}

fn set_cookie(cookie: &str) {
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(cookie),
    ) {
        response.append_header(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_message_decodes_to_itself() {
        let flash = Flash {
            message: "You are following susan!".into(),
            is_error: false,
        };
        let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flash).unwrap());
        assert_eq!(decode(&encoded), Some(flash));
    }

    #[test]
    fn cookies_we_did_not_write_are_ignored() {
        for garbage in ["", "%%%", "bm90IGpzb24", &"A".repeat(MAX_ENCODED_LEN + 1)] {
            assert_eq!(decode(garbage), None, "{garbage:?}");
        }
    }
}
