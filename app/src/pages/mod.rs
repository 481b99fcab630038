pub mod edit_profile;
pub mod explore;
pub mod follow_list;
pub mod home;
pub mod login;
pub mod not_found;
pub mod profile;
pub mod register;
