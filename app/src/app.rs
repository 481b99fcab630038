use crate::components::known_users::provide_known_users;
use crate::components::nav::NavBar;
use crate::components::notice::{NoticeArea, provide_notices};
use crate::components::title::full_title;
use crate::model::Direction;
use crate::pages::{
    edit_profile::EditProfilePage, explore::ExplorePage, follow_list::FollowListPage,
    home::HomePage, login::LoginPage, not_found::NotFoundPage, profile::ProfilePage,
    register::RegisterPage,
};
use crate::session::provide_session;
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::respond::send_content_security_policy(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.ico" sizes="32x32" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_session();

    view! {
        <Title formatter=full_title />
        <Router>
            {provide_notices()}
            {provide_known_users()}
            <NavBar />
            <main class="container">
                <NoticeArea />
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/explore") view=ExplorePage ssr=SsrMode::Async />
                    <Route path=path!("/user/:username") view=ProfilePage ssr=SsrMode::Async />
                    <Route
                        path=path!("/user/:username/followers")
                        view=|| view! { <FollowListPage direction=Direction::Followers /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/user/:username/following")
                        view=|| view! { <FollowListPage direction=Direction::Following /> }
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async />
                    <Route path=path!("/edit_profile") view=EditProfilePage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
