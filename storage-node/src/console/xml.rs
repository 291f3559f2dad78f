//! Reading the S3 XML answers the console asks for. They come from this server, whose
//! XML is regular (no CDATA, no attributes on these elements), so a small reader of
//! child elements by name suffices: [`elements`] gives each `<Name>...</Name>` block,
//! [`text`] the unescaped text of the first one.

/// The inner text of every `<name>...</name>` element, in order (nested elements of the
/// same name are not expected).
pub fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The unescaped text of the first `<name>` element.
pub fn text(xml: &str, name: &str) -> Option<String> {
    elements(xml, name).first().map(|t| unescape(t))
}

/// XML text with its entities resolved.
pub fn unescape(t: &str) -> String {
    quick_xml::escape::unescape(t)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| t.to_string())
}

/// XML-escapes text for a request body.
pub fn escape(t: &str) -> String {
    quick_xml::escape::escape(t).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_children_by_name() {
        let x = "<R><Prefix>p/</Prefix><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>\
                 <Contents><Key>c</Key><Size>4</Size></Contents>\
                 <CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></R>";
        let keys: Vec<_> = elements(x, "Contents")
            .iter()
            .filter_map(|c| text(c, "Key"))
            .collect();
        assert_eq!(keys, ["a&b", "c"]);
        let prefixes: Vec<_> = elements(x, "CommonPrefixes")
            .iter()
            .filter_map(|c| text(c, "Prefix"))
            .collect();
        assert_eq!(prefixes, ["p/d/"]);
        assert_eq!(text(x, "Missing"), None);
        assert_eq!(escape("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
