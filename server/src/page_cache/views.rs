//! Which page a request asks for, and what the database says of it now (its stamp): what a
//! kept page is checked against.

use super::*;

/// A page view the cache can serve.
pub(super) enum View {
    Home(UserId),
    Explore(Option<UserId>),
    Profile(Option<UserId>, Username),
}

/// Which page a request asks for, if it is one the cache can serve: a `GET` of a first page
/// (older pages are not kept) with no one-time message waiting. With the request's session.
pub(super) fn page_asked(request: &Request) -> Option<(Asked, Session)> {
    if request.method() != Method::GET || request.uri().query().is_some() {
        return None;
    }
    let asked = match request.uri().path() {
        "/" => Asked::Home,
        "/explore" => Asked::Explore,
        path => Asked::Profile(app::api::existing_username(path.strip_prefix("/user/")?).ok()?),
    };
    if app::flash::waiting(request.headers()).is_some() {
        return None;
    }
    let session = request.extensions().get::<Session>()?.clone();
    Some((asked, session))
}

pub(super) enum Asked {
    Home,
    Explore,
    Profile(Username),
}

/// The view, once the session says who asks: Home only for someone signed in.
pub(super) async fn view_of(asked: Asked, session: &Session) -> Option<View> {
    // The same call pages make: it also renews an active person's session once a day.
    let viewer = app::auth::signed_in_user_id(session).await.ok()?;
    match asked {
        Asked::Home => viewer.map(View::Home),
        Asked::Explore => Some(View::Explore(viewer)),
        Asked::Profile(name) => Some(View::Profile(viewer, name)),
    }
}

impl View {
    /// The pages this view may be served, before the database says how the viewer stands.
    pub(super) fn candidates(&self) -> Vec<PageKey> {
        let (viewer, page) = match self {
            View::Home(reader) => return vec![PageKey::Home(*reader)],
            View::Explore(viewer) => (viewer, SharedPage::Explore),
            View::Profile(viewer, name) => (viewer, SharedPage::Profile(name.clone())),
        };
        let signed_in = |following, followed_by| Standing::SignedIn {
            following,
            followed_by,
        };
        let standings = match (viewer, &page) {
            (None, _) => vec![Standing::SignedOut],
            (Some(_), SharedPage::Explore) => vec![signed_in(false, false)],
            (Some(_), SharedPage::Profile(_)) => vec![
                signed_in(false, false),
                signed_in(true, false),
                signed_in(false, true),
                signed_in(true, true),
            ],
        };
        standings
            .into_iter()
            .map(|viewer| PageKey::Shared {
                page: page.clone(),
                viewer,
            })
            .collect()
    }
}

/// What a view's statement said: which page is the viewer's, and what it must show.
pub(super) struct Stamp {
    pub(super) key: PageKey,
    pub(super) shows: Shows,
    /// The viewer, when signed in: the render reads them from here, and a shared page is
    /// filled with them.
    pub(super) signed_in: Option<SignedIn>,
    pub(super) posts_seen_at: PostsSnapshot,
    pub(super) posted_since: bool,
}

/// The view's stamp; `Err` when the page is not the cache's to serve (the viewer's account is
/// gone, nobody has the profile's name, it is the viewer's own profile) or the database is
/// away: the page then says so as it always did.
pub(super) async fn stamp_of(
    pool: &PgPool,
    view: &View,
    since: Option<&PostsSnapshot>,
) -> Result<Stamp, ()> {
    let standing = |signed_in: &Option<SignedIn>, following, followed_by| match signed_in {
        Some(_) => Standing::SignedIn {
            following,
            followed_by,
        },
        None => Standing::SignedOut,
    };
    // A viewer the session names but the database no longer has.
    let gone =
        |asked: &Option<UserId>, found: &Option<SignedIn>| asked.is_some() && found.is_none();
    match view {
        View::Home(reader) => {
            let Ok(Some(stamp)) = page_stamps::home_stamp(pool, *reader, since).await else {
                return Err(());
            };
            Ok(home(stamp))
        }
        View::Explore(viewer) => {
            let stamp = page_stamps::explore_stamp(pool, *viewer, since)
                .await
                .map_err(|_| ())?;
            if gone(viewer, &stamp.viewer) {
                return Err(());
            }
            Ok(Stamp {
                key: PageKey::Shared {
                    page: SharedPage::Explore,
                    viewer: standing(&stamp.viewer, false, false),
                },
                shows: Shows::Explore {
                    profile_edits: stamp.profile_edits,
                },
                signed_in: stamp.viewer,
                posts_seen_at: stamp.posts_seen_at,
                posted_since: stamp.posted_since,
            })
        }
        View::Profile(viewer, name) => {
            let Ok(Some(stamp)) = page_stamps::profile_stamp(pool, *viewer, name, since).await
            else {
                return Err(());
            };
            if gone(viewer, &stamp.viewer) || *viewer == Some(stamp.owner) {
                return Err(());
            }
            Ok(Stamp {
                key: PageKey::Shared {
                    page: SharedPage::Profile(name.clone()),
                    viewer: standing(
                        &stamp.viewer,
                        stamp.followed_by_viewer,
                        stamp.follows_viewer,
                    ),
                },
                shows: Shows::Profile {
                    owner_version: stamp.owner_version,
                    owner_last_seen: stamp.owner_last_seen,
                },
                signed_in: stamp.viewer,
                posts_seen_at: stamp.posts_seen_at,
                posted_since: stamp.posted_since,
            })
        }
    }
}

pub(super) fn home(stamp: HomeStamp) -> Stamp {
    Stamp {
        key: PageKey::Home(stamp.signed_in.user.id),
        shows: Shows::Home {
            home_version: stamp.home_version,
            profile_edits: stamp.profile_edits,
        },
        signed_in: Some(stamp.signed_in),
        posts_seen_at: stamp.posts_seen_at,
        posted_since: stamp.posted_since,
    }
}
