pub mod follow_button;
pub mod nav;
pub mod notice;
pub mod post_list;
pub mod title;
pub mod user_list;
