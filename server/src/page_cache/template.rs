//! A kept page's text with holes for what each response puts in its own: the CSP nonce and,
//! on pages kept for many viewers, where the page names its signed-in viewer.

use app::model::CurrentUser;

/// A kept page's text, with holes for what each response puts in its own.
pub(super) struct Template {
    pub(super) pieces: Vec<Piece>,
}

pub(super) enum Piece {
    Text(String),
    /// The response's CSP nonce.
    Nonce,
    /// The signed-in viewer in the page's hydration data.
    ViewerData,
    /// The navigation's link to the viewer's profile.
    ViewerLink,
}

/// The nonce in a policy's `'nonce-…'` source.
pub(super) fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let length = policy[start..].find('\'')?;
    Some(&policy[start..start + length]).filter(|nonce| nonce.len() >= 16)
}

/// The signed-in user as a page's hydration data carries them: Leptos writes each resource's
/// JSON as a JavaScript string literal (Rust's `{:?}` of it, with `<` escaped), and the
/// session's resource holds `Result<Option<CurrentUser>, _>`.
pub(super) fn viewer_data(user: &CurrentUser) -> String {
    let json =
        serde_json::to_string(&Ok::<Option<&CurrentUser>, ()>(Some(user))).unwrap_or_default();
    format!("{:?}", json.replace('<', "\\u003c"))
}

/// The navigation's link to the user's profile (`components::nav`).
pub(super) fn viewer_link(user: &CurrentUser) -> String {
    format!("href=\"/user/{}\"", user.username)
}

impl Template {
    /// `text` with a hole at every `nonce` and, given the viewer it was rendered for, where it
    /// names them: once in the hydration data, once in the navigation (before `<main`). `None`
    /// when they are not found exactly so.
    pub(super) fn cut(text: &str, nonce: &str, viewer: Option<&CurrentUser>) -> Option<Template> {
        let mut holes: Vec<(usize, usize, Piece)> = text
            .match_indices(nonce)
            .map(|(at, found)| (at, found.len(), Piece::Nonce))
            .collect();
        if let Some(viewer) = viewer {
            let once = |within: &str, wanted: &str| {
                let mut found = within.match_indices(wanted).map(|(at, _)| at);
                found.next().filter(|_| found.next().is_none())
            };
            let data = viewer_data(viewer);
            holes.push((once(text, &data)?, data.len(), Piece::ViewerData));
            let link = viewer_link(viewer);
            let navigation = &text[..text.find("<main")?];
            holes.push((once(navigation, &link)?, link.len(), Piece::ViewerLink));
        }
        holes.sort_by_key(|(at, ..)| *at);
        let mut pieces = Vec::with_capacity(2 * holes.len() + 1);
        let mut from = 0;
        for (at, length, piece) in holes {
            if at < from {
                return None;
            }
            pieces.push(Piece::Text(text[from..at].to_owned()));
            pieces.push(piece);
            from = at + length;
        }
        pieces.push(Piece::Text(text[from..].to_owned()));
        Some(Template { pieces })
    }

    pub(super) fn fill(&self, nonce: &str, viewer: Option<&CurrentUser>) -> String {
        let (data, link) = match viewer {
            Some(viewer) => (viewer_data(viewer), viewer_link(viewer)),
            None => (String::new(), String::new()),
        };
        let mut text = String::with_capacity(
            self.pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.len(),
                    _ => 64,
                })
                .sum(),
        );
        for piece in &self.pieces {
            text.push_str(match piece {
                Piece::Text(part) => part,
                Piece::Nonce => nonce,
                Piece::ViewerData => &data,
                Piece::ViewerLink => &link,
            });
        }
        text
    }
}
