use crate::app::Session;
use crate::domain::{ABOUT_ME_MAX_CHARS, USERNAME_MAX_CHARS};
use crate::error::AppError;
use crate::pages::login::action_error;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFields {
    pub username: String,
    pub about_me: String,
}

#[server(prefix = "/api", endpoint = "profile_form")]
pub async fn profile_form() -> Result<ProfileFields, AppError> {
    use crate::{auth, db, respond, state};
    respond::with_status(
        async {
            let me = auth::require_user_id(&auth::session().await?).await?;
            let current = db::users::editable_profile(&state::pool()?, me).await?;
            Ok(ProfileFields {
                username: current.username,
                about_me: current.about_me.unwrap_or_default(),
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "edit_profile")]
pub async fn edit_profile(username: String, about_me: String) -> Result<(), AppError> {
    use crate::domain::{AboutMe, Username};
    use crate::{auth, db, respond, state};
    let result = async {
        let me = auth::require_user_id(&auth::session().await?).await?;
        let username = Username::parse(&username).map_err(AppError::BadRequest)?;
        let about_me = AboutMe::parse(&about_me).map_err(AppError::BadRequest)?;
        db::users::update_profile(&state::pool()?, me, &username, &about_me).await
    }
    .await;
    respond::finish(
        result,
        |_| Some("Your changes have been saved.".into()),
        None,
    )
    .await
}

#[component]
pub fn EditProfilePage() -> impl IntoView {
    let session = expect_context::<Session>();
    let action = session.edit_profile;
    let current = Resource::new(move || action.version().get(), |_| profile_form());
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            expect_context::<crate::components::notice::Notices>()
                .success("Your changes have been saved.".into());
        }
    });
    view! {
        <Title text="Edit profile" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match current.await {
                    Ok(form) => view! {
                        <section class="card form-card">
                            <h1>"Edit your profile"</h1>
                            <ActionForm action>
                                {action_error(move || action.value().get())}
                                <label for="edit-username">"Username"</label>
                                <input id="edit-username" name="username" value=form.username required
                                    maxlength=USERNAME_MAX_CHARS.to_string() />
                                <label for="edit-about">"About me"</label>
                                <textarea id="edit-about" name="about_me" rows="3"
                                    maxlength=ABOUT_ME_MAX_CHARS.to_string()>{form.about_me}</textarea>
                                <button type="submit" class="button primary" disabled=action.pending()>"Save"</button>
                            </ActionForm>
                        </section>
                    }
                        .into_any(),
                    Err(AppError::Unauthorized(_)) => view! { <Redirect path="/login?next=/edit_profile" /> }.into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
