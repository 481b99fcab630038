//! Titles that follow the page's data, e.g. the username of a profile.

use leptos::prelude::*;

/// The `<Title>` text for a title computed by `text`.
///
/// In the browser it stays reactive, so moving from one profile to another retitles the tab.
/// On the server it is read once, while the page renders: leptos_axum reads the title after
/// rendering, when the page's reactive values can already be disposed, and a reactive title
/// then panicked (about 1 in 3,000 profile views under load).
pub fn page_title(text: impl Fn() -> String + Send + Sync + 'static) -> TextProp {
    #[cfg(feature = "ssr")]
    {
        TextProp::from(untrack(text))
    }
    #[cfg(not(feature = "ssr"))]
    {
        TextProp::from(text)
    }
}
