//! Non-ASCII user metadata as S3 handles it: a value sent as an RFC 2047 encoded word
//! (`=?UTF-8?B?...?=` or `=?UTF-8?Q?...?=`, what SDKs send for non-ASCII) is decoded
//! before it is stored, raw UTF-8 (or, failing that, ISO-8859-1, HTTP's historic header
//! charset) is taken as sent, and a stored value that is not ASCII is returned RFC 2047
//! encoded (`=?UTF-8?B?...?=`), so every answer is plain ASCII header text.

use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The text of a request header value: decoded encoded words, UTF-8, or ISO-8859-1.
pub fn decode(raw: &[u8]) -> String {
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t.to_string(),
        Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
    };
    decode_words(&text).unwrap_or(text)
}

/// Decodes a value made of RFC 2047 encoded words in UTF-8 (separated by whitespace);
/// `None` when it is not one.
fn decode_words(text: &str) -> Option<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut parts = inner.splitn(3, '?');
        let (charset, encoding, data) = (parts.next()?, parts.next()?, parts.next()?);
        if !charset.eq_ignore_ascii_case("utf-8") {
            return None;
        }
        match encoding {
            "B" | "b" => out.extend(B64.decode(data).ok()?),
            "Q" | "q" => out.extend(decode_q(data)?),
            _ => return None,
        }
    }
    if out.is_empty() && !text.trim().is_empty() {
        return None;
    }
    String::from_utf8(out).ok()
}

/// RFC 2047's "Q" encoding: `_` is a space, `=XX` a byte.
fn decode_q(data: &str) -> Option<Vec<u8>> {
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// A stored value as a response header: as is when ASCII, else one RFC 2047 word.
pub fn encode(value: &str) -> String {
    if value.is_ascii() {
        value.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", B64.encode(value.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_raw_utf8_and_latin1_decode_and_non_ascii_encodes() {
        assert_eq!(decode(b"plain"), "plain");
        assert_eq!(decode("=?UTF-8?B?w6l0w6kg4pyT?=".as_bytes()), "été ✓");
        assert_eq!(decode(b"=?utf-8?Q?caf=C3=A9_au_lait?="), "café au lait");
        assert_eq!(decode("Grüße".as_bytes()), "Grüße");
        assert_eq!(decode(&[0x47, 0x72, 0xfc, 0xdf, 0x65]), "Grüße");
        // Not an encoded word (or another charset): kept as sent.
        assert_eq!(decode(b"=?ISO-8859-1?Q?a?="), "=?ISO-8859-1?Q?a?=");
        assert_eq!(decode(b"a =? b"), "a =? b");
        assert_eq!(encode("ascii only"), "ascii only");
        assert_eq!(encode("été ✓"), "=?UTF-8?B?w6l0w6kg4pyT?=");
        assert_eq!(
            decode(encode("日本語のメタデータ").as_bytes()),
            "日本語のメタデータ"
        );
    }
}
