use crate::app::Session;
use crate::domain::{EMAIL_MAX_CHARS, PASSWORD_MIN_CHARS, USERNAME_MAX_CHARS};
use crate::error::AppError;
use crate::pages::login::action_error;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Creates an account and signs it in.
#[server(prefix = "/api", endpoint = "register")]
pub async fn register(
    username: String,
    email: String,
    password: String,
    password2: String,
) -> Result<(), AppError> {
    use crate::domain::{Email, Password, Username};
    use crate::{auth, db, respond, state};
    let result = async {
        let username = Username::parse(&username).map_err(AppError::BadRequest)?;
        let email = Email::parse(&email).map_err(AppError::BadRequest)?;
        let password = Password::parse(&password).map_err(AppError::BadRequest)?;
        if password.expose() != password2 {
            return Err(AppError::BadRequest(
                "The two passwords do not match.".into(),
            ));
        }
        state::sign_in_throttle()?.attempt_from(state::client_address())?;
        let hash = auth::hash_password(password).await?;
        let id = db::users::create_user(&state::pool()?, &username, &email, &hash).await?;
        auth::sign_in(&auth::session().await?, id).await
    }
    .await;
    respond::finish(
        result,
        |_| Some("Congratulations, you are now a registered user!".into()),
        Some("/".into()),
    )
    .await
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        <Title text="Register" />
        <section class="card form-card">
            <h1>"Register"</h1>
            <ActionForm action=session.register>
                {action_error(move || session.register.value().get())}
                <label for="register-username">"Username"</label>
                <input id="register-username" name="username" autocomplete="username" required
                    maxlength=USERNAME_MAX_CHARS.to_string() pattern="[A-Za-z0-9_.\\-]+"
                    title="Letters, digits, '_', '.' and '-'" />
                <label for="register-email">"Email"</label>
                <input id="register-email" name="email" type="email" autocomplete="email" required
                    maxlength=EMAIL_MAX_CHARS.to_string() />
                <label for="register-password">"Password"</label>
                <input id="register-password" name="password" type="password" autocomplete="new-password" required
                    minlength=PASSWORD_MIN_CHARS.to_string() />
                <label for="register-password2">"Repeat password"</label>
                <input id="register-password2" name="password2" type="password" autocomplete="new-password" required
                    minlength=PASSWORD_MIN_CHARS.to_string() />
                <button type="submit" class="button primary" disabled=session.register.pending()>"Register"</button>
            </ActionForm>
            <p class="muted">"Already registered? " <A href="/login">"Sign in"</A></p>
        </section>
    }
}
