//! Values read from the current URL that several pages share.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The `:username` segment of a profile or list URL, percent-decoded.
pub fn username_param() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("username").unwrap_or_default())
}
