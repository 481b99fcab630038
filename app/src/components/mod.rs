pub mod follow_button;
pub mod form;
pub mod nav;
pub mod notice;
pub mod params;
pub mod post_list;
pub mod title;
pub mod user_list;
