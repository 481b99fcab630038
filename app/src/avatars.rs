//! Avatars drawn and served by Microblog itself (server only), so a page never shows a broken
//! image, offline or when a third party is down, and no visitor's browser asks anyone else
//! for them.
//!
//! Each person's avatar is an identicon: a symmetric 5 × 5 pattern in one colour, drawn from
//! a hash of their account's id. Not of their email, as Gravatar's is: a hash of an address
//! in every page would let anyone check whether a guessed address is a given person's, and an
//! id is public already (forms carry it). The URL carries the first 128 bits of the hash and
//! names the picture exactly, so it is cached for a year, and it stays when the name or the
//! address changes.

use crate::model::UserId;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Hex digits of the hash in an avatar's URL.
const KEY_HEX_DIGITS: usize = 32;

/// The URL of the avatar of the person `id`.
pub fn avatar_url(id: UserId) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    hasher.update(b"microblog avatar ");
    hasher.update(id.get().to_be_bytes());
    let digest = hasher.finalize();
    // One string built in place: a page draws some forty of these.
    let mut url = String::with_capacity(8 + KEY_HEX_DIGITS + 4);
    url.push_str("/avatar/");
    for byte in &digest[..KEY_HEX_DIGITS / 2] {
        url.push(char::from(HEX[usize::from(byte >> 4)]));
        url.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    url.push_str(".svg");
    url
}

/// The identicon named by an avatar URL's file name (`<32 hex digits>.svg`), or `None` for a
/// name no avatar URL has.
pub fn identicon_svg(file_name: &str) -> Option<String> {
    let key = file_name.strip_suffix(".svg")?;
    // Lower-case digits only, as `avatar_url` writes them: one URL per picture.
    if key.len() != KEY_HEX_DIGITS || !key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let bytes: Vec<u8> = (0..KEY_HEX_DIGITS / 2)
        .map(|i| u8::from_str_radix(&key[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    // Hue from two bytes, on a light background so every hue reads as a shape.
    let hue = (u16::from(bytes[0]) << 8 | u16::from(bytes[1])) % 360;
    let mut svg = String::with_capacity(1200);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 5 5\" shape-rendering=\"crispEdges\">\
         <rect width=\"5\" height=\"5\" fill=\"#f0f0f0\"/><g fill=\"hsl({hue} 55% 50%)\">"
    );
    // Fifteen cells (three columns of five) decide the pattern; columns 3 and 4 mirror 1 and 0.
    for cell in 0..15 {
        let on = bytes[2 + cell / 8] >> (cell % 8) & 1 == 1;
        if !on {
            continue;
        }
        let (column, row) = (cell / 5, cell % 5);
        let _ = write!(
            svg,
            "<rect x=\"{column}\" y=\"{row}\" width=\"1\" height=\"1\"/>"
        );
        if column < 2 {
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{row}\" width=\"1\" height=\"1\"/>",
                4 - column
            );
        }
    }
    svg.push_str("</g></svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_avatar_url_is_a_hash_of_the_id_and_differs_between_people() {
        let url = avatar_url(UserId::new(1));
        assert_eq!(url, avatar_url(UserId::new(1)));
        assert!(
            url.starts_with("/avatar/") && url.ends_with(".svg") && url.len() == 8 + 32 + 4,
            "{url}"
        );
        assert_ne!(url, avatar_url(UserId::new(2)));
        assert_ne!(url, avatar_url(UserId::new(256)));
    }

    #[test]
    fn every_avatar_url_draws_a_symmetric_identicon_and_nothing_else_does() {
        let url = avatar_url(UserId::new(7));
        let svg = identicon_svg(url.strip_prefix("/avatar/").unwrap()).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        for column in [0, 1] {
            for row in 0..5 {
                let cell =
                    |x: i32| format!("<rect x=\"{x}\" y=\"{row}\" width=\"1\" height=\"1\"/>");
                assert_eq!(svg.contains(&cell(column)), svg.contains(&cell(4 - column)));
            }
        }
        for bad in [
            "",
            ".svg",
            "855f96e983f1f8e8be944692b6f719fd",
            "855f96e983f1f8e8be944692b6f719f.svg",
            "855f96e983f1f8e8be944692b6f719fg.svg",
            "855F96E983F1F8E8BE944692B6F719FD.svg",
            "../../etc/passwd.svg",
            "855f96e983f1f8e8be944692b6f719fd.svg.svg",
        ] {
            assert_eq!(identicon_svg(bad), None, "{bad}");
        }
    }
}
