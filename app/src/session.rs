//! Who is signed in, shared by every page as context. It is fetched again whenever one of
//! the account actions (sign in, sign out, register, edit the profile) completes.

use crate::account::{EditProfile, Login, Logout, Register, get_current_user};
use crate::error::AppError;
use crate::model::CurrentUser;
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub register: ServerAction<Register>,
    pub edit_profile: ServerAction<EditProfile>,
}

/// Creates the session context; call once, in the app's root.
pub fn provide_session() {
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let register = ServerAction::<Register>::new();
    let edit_profile = ServerAction::<EditProfile>::new();
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
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

impl Session {
    /// Whether someone is signed in, once that is known: what a page loads only for them waits
    /// for it, so a signed-out visitor's page asks the server for nothing it would refuse (a
    /// refusal's 401 would race the page's redirect for the response's status).
    pub async fn is_signed_in(self) -> bool {
        matches!(self.user.await, Ok(Some(_)))
    }
}
