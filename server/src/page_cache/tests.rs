//! Unit tests of what the cache keeps, evicts and cuts.

use super::*;

fn page(until: i64, bytes: usize) -> KeptPage {
    KeptPage {
        shows: Shows::Explore { profile_edits: 0 },
        posts_complete_at: Mutex::new(PostsSnapshot("1:1:".into())),
        until,
        kept_at: Instant::now(),
        headers: HeaderMap::new(),
        body: Template { pieces: Vec::new() },
        policy: Template { pieces: Vec::new() },
        bytes,
    }
}

fn home(reader: i64) -> PageKey {
    PageKey::Home(UserId::new(reader))
}

#[test]
fn the_cache_stays_within_its_bytes_and_drops_pages_past_their_time_first() {
    let cache = PageCache::new(1);
    let megabyte = 1024 * 1024;
    let later = unix_millis() + 60_000;
    cache.keep(home(1), page(0, megabyte / 2));
    cache.keep(home(2), page(later, megabyte / 2));
    cache.keep(home(3), page(later + 1, megabyte / 2));
    assert!(cache.kept(&home(1)).is_none(), "past its time");
    assert!(cache.kept(&home(2)).is_some() && cache.kept(&home(3)).is_some());

    cache.keep(home(4), page(later + 2, megabyte / 2));
    assert!(cache.kept(&home(2)).is_none(), "least time left");
    assert!(cache.kept(&home(4)).is_some());
    assert_eq!(cache.pages().bytes, megabyte);

    cache.keep(home(4), page(later + 3, megabyte / 4));
    assert_eq!(
        cache.pages().bytes,
        megabyte / 2 + megabyte / 4,
        "replaced, not added"
    );
    cache.keep(home(5), page(later, 2 * megabyte));
    assert!(
        cache.kept(&home(5)).is_none(),
        "bigger than the whole budget"
    );
}

#[test]
fn the_nonce_is_read_from_the_policy() {
    assert_eq!(
        nonce_of("script-src 'self' 'nonce-AbCdEfGhIjKlMnOpQrStUv' 'wasm-unsafe-eval'"),
        Some("AbCdEfGhIjKlMnOpQrStUv")
    );
    assert_eq!(nonce_of("script-src 'self'"), None);
    assert_eq!(
        nonce_of("script-src 'nonce-x'"),
        None,
        "too short to be ours"
    );
}

#[test]
fn a_shared_page_is_cut_where_it_names_its_viewer_and_filled_for_each() {
    let alice = CurrentUser {
        id: UserId::new(7),
        username: "alice".to_owned(),
    };
    let bob = CurrentUser {
        id: UserId::new(12),
        username: "bob".to_owned(),
    };
    let page = |viewer: &CurrentUser, nonce: &str| {
        format!(
            "<header><a href=\"/\">Home</a><a {}>Profile</a></header><main>\
             <a href=\"/user/alice\">alice</a><script nonce=\"{nonce}\">\
             __RESOLVED_RESOURCES[0] = {};</script></main>",
            viewer_link(viewer),
            viewer_data(viewer)
        )
    };
    let nonce = "AbCdEfGhIjKlMnOpQrStUv";
    let template = Template::cut(&page(&alice, nonce), nonce, Some(&alice)).unwrap();
    assert_eq!(
        template.fill("ZyXwVuTsRqPoNmLkJiHgFe", Some(&bob)),
        page(&bob, "ZyXwVuTsRqPoNmLkJiHgFe"),
        "alice's post keeps her name; the navigation and the data are bob's"
    );
    assert!(viewer_data(&alice).contains(r#"\"username\":\"alice\""#));

    let twice = format!("{}{}", page(&alice, nonce), viewer_data(&alice));
    assert!(
        Template::cut(&twice, nonce, Some(&alice)).is_none(),
        "named twice in the data: not kept"
    );
    let unnamed = page(&alice, nonce).replace(&viewer_link(&alice), "href=\"/me\"");
    assert!(
        Template::cut(&unnamed, nonce, Some(&alice)).is_none(),
        "no link to the viewer: not kept"
    );
}

#[test]
fn a_page_is_kept_until_its_earliest_part_and_never_when_a_part_refuses() {
    let mut headers = HeaderMap::new();
    assert_eq!(fit_until(&headers), None, "no part declared");
    for until in ["2000", "1000", "3000"] {
        headers.append(CACHEABLE_UNTIL_HEADER, HeaderValue::from_static(until));
    }
    assert_eq!(fit_until(&headers), Some(1000));
    headers.insert(NOT_CACHEABLE_HEADER, HeaderValue::from_static("1"));
    assert_eq!(fit_until(&headers), None);
}

#[test]
fn a_profile_is_worth_keeping_from_its_second_render_and_few_are_remembered() {
    let cache = PageCache::new(1);
    let profile = |name: &str| PageKey::Shared {
        page: SharedPage::Profile(app::api::existing_username(name).unwrap()),
        viewer: Standing::SignedOut,
    };
    assert!(!cache.worth_keeping(&profile("susan")), "first render");
    assert!(cache.worth_keeping(&profile("susan")), "second render");
    assert!(
        !cache.worth_keeping(&profile("susan")),
        "counted afresh once kept"
    );
    let explore = PageKey::Shared {
        page: SharedPage::Explore,
        viewer: Standing::SignedOut,
    };
    assert!(cache.worth_keeping(&explore) && cache.worth_keeping(&home(1)));

    for n in 0..PROFILES_REMEMBERED + 10 {
        cache.worth_keeping(&profile(&format!("crawled{n}")));
    }
    assert!(cache.pages().profiles_rendered_once.len() <= PROFILES_REMEMBERED);
}
