//! Page titles: the tab's text, and titles that follow the page's data (a profile's username).

use crate::domain::could_be_username;
use leptos::prelude::*;

/// The tab's text for a page called `page`.
///
/// On the server, leptos_meta writes this string into `<head>` as it is, without escaping, so a
/// username taken from the URL (`/user/%3C%2Ftitle%3E%3Cscript%3E…`) became markup and ran as
/// script. Every title therefore passes through here and is escaped on the server; in the
/// browser it is assigned to `document.title`, which is text already.
pub fn full_title(page: String) -> String {
    let title = if page.is_empty() {
        "Microblog".to_string()
    } else {
        format!("{page} · Microblog")
    };
    #[cfg(feature = "ssr")]
    {
        html_escape::encode_text(&title).into_owned()
    }
    #[cfg(not(feature = "ssr"))]
    {
        title
    }
}

/// The title of a page about the user named in its URL; a name no account can have (markup,
/// say) never reaches the page.
pub fn username_title(name: String) -> String {
    if could_be_username(&name) {
        name
    } else {
        "Not found".into()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "ssr")]
    fn markup_in_a_title_is_escaped_on_the_server() {
        let title = full_title("</title><script>alert(1)</script>".into());
        assert!(!title.contains('<'), "{title}");
        assert_eq!(
            title,
            "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Microblog"
        );
    }

    #[test]
    fn impossible_usernames_are_not_titles() {
        assert_eq!(username_title("susan".into()), "susan");
        assert_eq!(username_title("<script>".into()), "Not found");
        assert_eq!(username_title("..".into()), "Not found");
    }
}
