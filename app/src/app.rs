use crate::components::nav::NavBar;
use crate::components::notice::{NoticeArea, provide_notices};
use crate::components::title::full_title;
use crate::error::AppError;
use crate::model::CurrentUser;
use crate::pages::{
    edit_profile::EditProfilePage, explore::ExplorePage, follow_list::FollowListPage,
    home::HomePage, login::LoginPage, not_found::NotFoundPage, profile::ProfilePage,
    register::RegisterPage,
};
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

/// Who is signed in, shared by every page. It is fetched again whenever one of the
/// sign-in/sign-out/profile actions completes.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub login: ServerAction<crate::pages::login::Login>,
    pub logout: ServerAction<crate::components::nav::Logout>,
    pub register: ServerAction<crate::pages::register::Register>,
    pub edit_profile: ServerAction<crate::pages::edit_profile::EditProfile>,
}

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    use crate::{auth, db, state};
    let session = auth::session().await?;
    match auth::signed_in_user_id(&session).await? {
        Some(id) => db::users::current_user(&state::pool()?, id).await,
        None => Ok(None),
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let login = ServerAction::<crate::pages::login::Login>::new();
    let logout = ServerAction::<crate::components::nav::Logout>::new();
    let register = ServerAction::<crate::pages::register::Register>::new();
    let edit_profile = ServerAction::<crate::pages::edit_profile::EditProfile>::new();
    let user = Resource::new(
        move || {
            (
                login.version().get(),
                logout.version().get(),
                register.version().get(),
                edit_profile.version().get(),
            )
        },
        |_| get_current_user(),
    );
    provide_context(Session {
        user,
        login,
        logout,
        register,
        edit_profile,
    });

    view! {
        <Title formatter=full_title />
        <Router>
            {provide_notices()}
            <NavBar />
            <main class="container">
                <NoticeArea />
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/explore") view=ExplorePage ssr=SsrMode::Async />
                    <Route path=path!("/user/:username") view=ProfilePage ssr=SsrMode::Async />
                    <Route
                        path=path!("/user/:username/followers")
                        view=|| view! { <FollowListPage followers=true /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/user/:username/following")
                        view=|| view! { <FollowListPage followers=false /> }
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
