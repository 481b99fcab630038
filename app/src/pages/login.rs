use crate::app::Session;
use crate::error::AppError;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// Signs in and goes to `next` (a path on this site; anything else means home).
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::{auth, db, domain::safe_next_path, respond, state};
    let result = async {
        let throttle = state::sign_in_throttle()?;
        throttle.attempt_from(state::client_address())?;
        throttle.attempt_on_account(username.trim())?;
        let credentials = db::users::credentials(&state::pool()?, username.trim()).await?;
        let (user_id, stored_hash) = match credentials {
            Some(found) => (Some(found.id), Some(found.password_hash)),
            None => (None, None),
        };
        let matches = auth::verify_password(password, stored_hash).await?;
        match user_id {
            Some(id) if matches => auth::sign_in(&auth::session().await?, id).await,
            _ => Err(AppError::Unauthorized(
                "Invalid username or password.".into(),
            )),
        }
    }
    .await;
    respond::finish(result, |_| None, Some(safe_next_path(next.as_deref()))).await
}

/// The error of a form's last submission, as an alert above the form.
pub fn action_error<T>(
    last_result: impl Fn() -> Option<Result<T, AppError>> + Copy + 'static,
) -> impl Fn() -> Option<AnyView> + Copy {
    move || {
        last_result().and_then(Result::err).map(|error| {
            view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any()
        })
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    view! {
        <Title text="Sign in" />
        <section class="card form-card">
            <h1>"Sign in"</h1>
            <ActionForm action=session.login>
                {action_error(move || session.login.value().get())}
                <input type="hidden" name="next" value=next />
                <label for="login-username">"Username"</label>
                <input id="login-username" name="username" autocomplete="username" required maxlength="64" />
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit" class="button primary" disabled=session.login.pending()>"Sign in"</button>
            </ActionForm>
            <p class="muted">"New to Microblog? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}
