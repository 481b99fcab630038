//! The account's server functions: who is signed in, signing in and out, registering and
//! editing the profile. They sit below the pages and the session context that share them.

use crate::error::AppError;
use crate::model::CurrentUser;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    use crate::api;
    api::read("current_user", async |request| {
        // Who is signed in is part of what every kept page is checked against.
        request.page_part_cacheable([], time::OffsetDateTime::now_utc());
        Ok(request.signed_in().await?.map(|signed_in| signed_in.user))
    })
    .await
}

/// Signs in and goes to `next` (a path on this site; anything else means home).
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::domain::{Username, safe_next_path};
    use crate::{api, auth, db, state};
    let go_to = Some(safe_next_path(next.as_deref()));
    api::change(
        "login",
        |_| None,
        go_to,
        async |request| {
            // Limits first: a refused guess costs no password check.
            let throttle = state::sign_in_throttle()?;
            throttle
                .attempt_from(&request.pool, state::client_address())
                .await?;
            throttle
                .attempt_on_account(&request.pool, username.trim())
                .await?;
            // A name no account can have is checked like any unknown name: same answer, same time.
            let credentials = match Username::parse(&username) {
                Ok(username) => db::users::credentials(&request.pool, &username).await?,
                Err(_) => None,
            };
            let (user_id, stored_hash) = match credentials {
                Some(found) => (Some(found.id), Some(found.password_hash)),
                None => (None, None),
            };
            let matches = auth::verify_password(password, stored_hash).await?;
            match user_id {
                Some(id) if matches => auth::sign_in(&request.session, id).await,
                _ => Err(AppError::Unauthorized(
                    "Invalid username or password.".into(),
                )),
            }
        },
    )
    .await
}

/// Where registering leads, and where signing out does: their messages are shown there.
pub const AFTER_REGISTER: &str = "/";
pub const AFTER_LOGOUT: &str = "/login";

/// Creates an account and signs it in. Answers with the welcome to show on the home page.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    username: String,
    email: String,
    password: String,
    password2: String,
) -> Result<String, AppError> {
    use crate::domain::{Email, Password, Username};
    use crate::{api, auth, db, state};
    let welcome = |message: &String| Some(message.clone());
    api::change(
        "register",
        welcome,
        Some(AFTER_REGISTER.into()),
        async |request| {
            let username = Username::parse(&username).map_err(AppError::BadRequest)?;
            let email = Email::parse(&email).map_err(AppError::BadRequest)?;
            let password = Password::parse(&password).map_err(AppError::BadRequest)?;
            if password.expose() != password2 {
                return Err(AppError::BadRequest(
                    "The two passwords do not match.".into(),
                ));
            }
            state::sign_in_throttle()?
                .attempt_from(&request.pool, state::client_address())
                .await?;
            let hash = auth::hash_password(password).await?;
            let id = db::users::create_user(&request.pool, &username, &email, &hash).await?;
            auth::sign_in(&request.session, id).await?;
            Ok("Congratulations, you are now a registered user!".to_string())
        },
    )
    .await
}

/// Signs out: the session record is deleted, so the cookie is worthless afterwards. Answers
/// with the goodbye to show on the sign-in page.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<String, AppError> {
    use crate::{api, auth, db, state};
    let goodbye = |message: &String| Some(message.clone());
    api::change(
        "logout",
        goodbye,
        Some(AFTER_LOGOUT.into()),
        async |request| {
            let signed_in = request.viewer().await?;
            let seen = state::signed_in_sessions()?;
            auth::sign_out(&seen, &request.session).await?;
            // Their open live feeds close, on every server process.
            if let Some(user) = signed_in {
                db::live::announce_sign_out(&request.pool, user).await?;
            }
            Ok("You have signed out.".to_string())
        },
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFields {
    pub username: String,
    pub about_me: String,
}

#[server(prefix = "/api", endpoint = "profile_form")]
pub async fn profile_form() -> Result<ProfileFields, AppError> {
    use crate::{api, db};
    api::read("profile_form", async |request| {
        let current = db::users::editable_profile(&request.pool, request.me().await?).await?;
        Ok(ProfileFields {
            username: current.username,
            about_me: current.about_me.unwrap_or_default(),
        })
    })
    .await
}

/// Saves the profile and answers with the message to show, with or without JavaScript.
#[server(prefix = "/api", endpoint = "edit_profile")]
pub async fn edit_profile(username: String, about_me: String) -> Result<String, AppError> {
    use crate::domain::{AboutMe, Username};
    use crate::{api, db};
    api::change(
        "edit_profile",
        |saved: &String| Some(saved.clone()),
        None,
        async |request| {
            let me = request.me().await?;
            let username = Username::parse(&username).map_err(AppError::BadRequest)?;
            let about_me = AboutMe::parse(&about_me).map_err(AppError::BadRequest)?;
            db::users::update_profile(&request.pool, me, &username, &about_me).await?;
            Ok("Your changes have been saved.".to_string())
        },
    )
    .await
}
