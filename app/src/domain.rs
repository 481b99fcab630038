//! Values that are checked once, where they enter, and trusted everywhere after.
//!
//! The same parsers run in the browser (for instant field errors) and on the server (which
//! never trusts the browser), so both always agree on what is valid.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const USERNAME_MAX_CHARS: usize = 64;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const ABOUT_ME_MAX_CHARS: usize = 140;
pub const POST_MAX_CHARS: usize = 280;
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Argon2 happily hashes megabytes; nobody types a password this long.
pub const PASSWORD_MAX_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim();
        if name.is_empty() {
            return Err("Please choose a username.".into());
        }
        if name.chars().count() > USERNAME_MAX_CHARS {
            return Err(format!(
                "Usernames are at most {USERNAME_MAX_CHARS} characters."
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("Usernames may only contain letters, digits, '_', '.' and '-'.".into());
        }
        // `.` and `..` are path segments to a browser: /user/.. would collapse to /.
        if name.chars().all(|c| c == '.') {
            return Err("A username needs at least one letter, digit, '_' or '-'.".into());
        }
        Ok(Username(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim();
        let invalid = || "Please enter a valid email address.".to_string();
        if email.chars().count() > EMAIL_MAX_CHARS {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty()
            || !domain_ok
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        Ok(Email(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Deliberately not `Display` and with a redacting `Debug`, so it cannot
/// end up in a log line by accident.
#[derive(Clone, Serialize, Deserialize)]
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Self, String> {
        let length = input.chars().count();
        if length < PASSWORD_MIN_CHARS {
            return Err(format!(
                "Passwords must be at least {PASSWORD_MIN_CHARS} characters."
            ));
        }
        if length > PASSWORD_MAX_CHARS {
            return Err(format!(
                "Passwords are at most {PASSWORD_MAX_CHARS} characters."
            ));
        }
        Ok(Password(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostBody(String);

impl PostBody {
    pub fn parse(input: &str) -> Result<Self, String> {
        let body = input.trim();
        if body.is_empty() {
            return Err("Please write something before posting.".into());
        }
        if body.chars().count() > POST_MAX_CHARS {
            return Err(format!("Posts are at most {POST_MAX_CHARS} characters."));
        }
        if has_invisible_controls(body) {
            return Err(INVISIBLE_CONTROLS.into());
        }
        Ok(PostBody(body.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// "About me" text; empty input means the user has nothing to say, stored as NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AboutMe(Option<String>);

impl AboutMe {
    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        if text.chars().count() > ABOUT_ME_MAX_CHARS {
            return Err(format!(
                "About me is at most {ABOUT_ME_MAX_CHARS} characters."
            ));
        }
        if has_invisible_controls(text) {
            return Err(INVISIBLE_CONTROLS.into());
        }
        Ok(AboutMe((!text.is_empty()).then(|| text.to_owned())))
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

const INVISIBLE_CONTROLS: &str =
    "The text contains invisible control characters; please remove them.";

/// Control characters other than line breaks and tabs: invisible on the page, and NUL cannot
/// even be stored.
fn has_invisible_controls(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Whether `name` could be someone's username at all. Lookups of names that cannot exist
/// answer "not found" without asking the database.
pub fn could_be_username(name: &str) -> bool {
    Username::parse(name).is_ok_and(|parsed| parsed.as_str() == name)
}

/// Where to go after signing in. Only paths on this site are accepted, so a crafted link
/// (`/login?next=https://evil.example`) cannot send a freshly signed-in person elsewhere.
pub fn safe_next_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_accept_letters_digits_and_three_marks() {
        for name in [
            "john",
            "Susan_2",
            "mary.j",
            "da-vid",
            ".j",
            "-",
            &"x".repeat(64),
        ] {
            assert!(Username::parse(name).is_ok(), "{name} should be accepted");
        }
    }

    #[test]
    fn usernames_refuse_empty_long_or_odd_characters() {
        let cases = [
            ("", "empty"),
            ("   ", "blank"),
            (&"x".repeat(65) as &str, "65 characters"),
            ("jo hn", "space inside"),
            ("<script>", "markup"),
            ("robert'); drop table users;--", "sql"),
            ("zoë", "non-ascii letter"),
            (".", "a lone dot: the current folder in a URL"),
            ("..", "two dots: the parent folder in a URL"),
            ("....", "nothing but dots"),
        ];
        for (input, why) in cases {
            assert!(
                Username::parse(input).is_err(),
                "{why}: {input:?} should be refused"
            );
        }
    }

    #[test]
    fn usernames_are_trimmed() {
        assert_eq!(Username::parse("  john ").unwrap().as_str(), "john");
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("john@example.com").is_ok());
        for bad in [
            "",
            "john",
            "@example.com",
            "john@",
            "john@example",
            "jo hn@example.com",
            "a@b@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn post_bodies_are_trimmed_and_limited_to_280_characters() {
        assert_eq!(PostBody::parse("  hi  ").unwrap().as_str(), "hi");
        assert!(PostBody::parse(" \n\t ").is_err());
        assert!(
            PostBody::parse(&"é".repeat(280)).is_ok(),
            "limit counts characters, not bytes"
        );
        assert!(PostBody::parse(&"a".repeat(281)).is_err());
    }

    #[test]
    fn invisible_control_characters_are_refused_but_line_breaks_are_kept() {
        assert!(PostBody::parse("two\nlines\tand a tab").is_ok());
        for hostile in ["nul\0byte", "bell\u{7}", "escape\u{1b}[31m"] {
            assert!(PostBody::parse(hostile).is_err(), "{hostile:?}");
            assert!(AboutMe::parse(hostile).is_err(), "{hostile:?}");
        }
        assert!(Email::parse("jo\0hn@example.com").is_err());
    }

    #[test]
    fn only_well_formed_names_could_be_usernames() {
        assert!(could_be_username("susan"));
        for impossible in ["", " susan", "su san", "a\0b", "<b>", &"x".repeat(65)] {
            assert!(!could_be_username(impossible), "{impossible:?}");
        }
    }

    #[test]
    fn about_me_may_be_empty_but_not_longer_than_140() {
        assert_eq!(AboutMe::parse("   ").unwrap().as_deref(), None);
        assert_eq!(AboutMe::parse("hello").unwrap().as_deref(), Some("hello"));
        assert!(AboutMe::parse(&"a".repeat(141)).is_err());
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn next_paths_never_leave_the_site() {
        assert_eq!(safe_next_path(Some("/user/john")), "/user/john");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next_path(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next_path(None), "/");
    }
}
