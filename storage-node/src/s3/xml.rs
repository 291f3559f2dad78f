//! XML bodies: a tiny writer for responses and quick-xml/serde for the few request
//! documents S3 defines (CompleteMultipartUpload, Delete, CreateBucketConfiguration).
//! `Delete` is read with quick-xml's event reader instead of serde: the serde deserializer
//! trims the whitespace around text, so `<Key> a </Key>` would delete `a`, not ` a `
//! (found by the `xml_bodies` fuzz target).

use super::error::{S3Error, S3Result};
use serde::Deserialize;

/// Request documents larger than this are refused before parsing.
pub const MAX_XML_BODY: usize = 2 << 20;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry are written as references, as S3 does.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("&#x{:x};", c as u32))
            }
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds an XML document element by element.
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    pub fn new(root: &str) -> Self {
        let mut buf = String::with_capacity(1024);
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        buf.push_str(root);
        buf.push_str(" xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        Self { buf }
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    pub fn elem(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        self.buf.push_str(&escape(value));
        self.close(name)
    }

    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.buf
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompletePart {
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32")]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    pub checksum_sha256: Option<String>,
}

impl CompletePart {
    /// The part checksums the client listed, to be checked against the stored ones.
    pub fn checksums(&self) -> Vec<(super::checksum::ChecksumAlgorithm, String)> {
        use super::checksum::ChecksumAlgorithm as A;
        [
            (A::Crc32, &self.checksum_crc32),
            (A::Crc32c, &self.checksum_crc32c),
            (A::Crc64Nvme, &self.checksum_crc64nvme),
            (A::Sha1, &self.checksum_sha1),
            (A::Sha256, &self.checksum_sha256),
        ]
        .into_iter()
        .filter_map(|(a, v)| v.clone().map(|v| (a, v)))
        .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUpload {
    #[serde(default, rename = "Part")]
    pub parts: Vec<CompletePart>,
}

#[derive(Debug)]
pub struct DeleteObject {
    pub key: String,
    /// `<VersionId>`: delete that version for good.
    pub version_id: Option<String>,
}

/// The DeleteObjects request document.
#[derive(Debug)]
pub struct Delete {
    pub objects: Vec<DeleteObject>,
    pub quiet: bool,
}

/// Elements nested deeper than this are refused (a `Delete` document needs three).
const MAX_DELETE_DEPTH: usize = 8;

impl Delete {
    /// Parses `<Delete><Quiet>..</Quiet><Object><Key>..</Key>..</Object>..</Delete>`,
    /// keeping every character of a key (text and CDATA, entities resolved). Namespaces
    /// are ignored, as S3 does; `VersionId` is kept, unknown elements (`ETag`, ...) are
    /// skipped.
    pub fn parse(body: &[u8]) -> S3Result<Delete> {
        use quick_xml::events::Event;
        if body.len() > MAX_XML_BODY {
            return Err(S3Error::malformed_xml());
        }
        let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml())?;
        let mut reader = quick_xml::Reader::from_str(text);
        reader.config_mut().trim_text(false);
        let bad = |what: &str| {
            tracing::debug!(what, "malformed Delete document");
            S3Error::malformed_xml()
        };
        let mut path: Vec<String> = Vec::new();
        let mut doc = Delete {
            objects: Vec::new(),
            quiet: false,
        };
        let mut text_buf = String::new();
        let mut key: Option<String> = None;
        let mut version_id: Option<String> = None;
        let mut seen_root = false;
        loop {
            match reader.read_event().map_err(|_| bad("syntax"))? {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if path.is_empty() {
                        if name != "Delete" || seen_root {
                            return Err(bad("root"));
                        }
                        seen_root = true;
                    }
                    if path.len() >= MAX_DELETE_DEPTH {
                        return Err(bad("depth"));
                    }
                    if path.len() == 1 && name == "Object" {
                        key = None;
                        version_id = None;
                    }
                    path.push(name);
                    text_buf.clear();
                }
                Event::Empty(e) => {
                    let name = e.local_name();
                    if path.is_empty() {
                        return Err(bad("empty root"));
                    }
                    // `<Key/>` is an empty key, which the object layer refuses per key.
                    if path.len() == 2 && path[1] == "Object" && name.as_ref() == b"Key" {
                        key = Some(String::new());
                    }
                    if path.len() == 1 && name.as_ref() == b"Object" {
                        return Err(bad("object without key"));
                    }
                }
                Event::Text(t) => {
                    let s = t.unescape().map_err(|_| bad("entity"))?;
                    text_buf.push_str(&s);
                }
                Event::CData(c) => {
                    let raw = c.into_inner();
                    text_buf.push_str(std::str::from_utf8(&raw).map_err(|_| bad("utf-8"))?);
                }
                Event::End(_) => {
                    let Some(name) = path.pop() else {
                        return Err(bad("end"));
                    };
                    match (path.len(), name.as_str()) {
                        (2, "Key") if path[1] == "Object" => {
                            if key.is_some() {
                                return Err(bad("two keys"));
                            }
                            key = Some(std::mem::take(&mut text_buf));
                        }
                        (2, "VersionId") if path[1] == "Object" => {
                            version_id = Some(std::mem::take(&mut text_buf).trim().to_string());
                        }
                        (1, "Quiet") => {
                            doc.quiet = match text_buf.trim() {
                                "true" => true,
                                "false" => false,
                                _ => return Err(bad("quiet")),
                            };
                        }
                        (1, "Object") => {
                            let key = key.take().ok_or_else(|| bad("object without key"))?;
                            doc.objects.push(DeleteObject {
                                key,
                                version_id: version_id.take(),
                            });
                        }
                        _ => {}
                    }
                    text_buf.clear();
                }
                Event::Eof => break,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        if !path.is_empty() || !seen_root {
            return Err(bad("unclosed"));
        }
        Ok(doc)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBucketConfiguration {
    #[serde(default)]
    pub location_constraint: Option<String>,
}

pub fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> S3Result<T> {
    if body.len() > MAX_XML_BODY {
        return Err(S3Error::malformed_xml());
    }
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml())?;
    quick_xml::de::from_str(text).map_err(|e| {
        tracing::debug!(error = %e, "malformed XML");
        S3Error::malformed_xml()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_multipart_with_checksums() {
        let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAA</ChecksumCRC32></Part><Part><ETag>"b"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#;
        let c: CompleteMultipartUpload = parse(body).unwrap();
        assert_eq!(c.parts.len(), 2);
        assert_eq!(c.parts[1].part_number, 2);
        assert_eq!(c.parts[0].etag, "\"a\"");
        assert_eq!(
            c.parts[0].checksums(),
            vec![(
                super::super::checksum::ChecksumAlgorithm::Crc32,
                "AAAA".to_string()
            )]
        );
        assert!(c.parts[1].checksums().is_empty());
    }

    #[test]
    fn parses_delete_quiet() {
        let body = b"<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>";
        let d = Delete::parse(body).unwrap();
        assert!(d.quiet);
        assert_eq!(d.objects[0].key, "a&b");
        assert_eq!(d.objects.len(), 2);
    }

    #[test]
    fn malformed_documents_are_refused() {
        assert!(Delete::parse(b"<Delete><Object>").is_err());
        assert!(parse::<CompleteMultipartUpload>(b"\xff\xfe").is_err());
        assert!(parse::<CompleteMultipartUpload>(b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>").is_err());
    }

    /// A key with spaces, tabs or new lines at its ends names that key, not a trimmed
    /// one (which would delete another object).
    #[test]
    fn delete_keys_keep_their_whitespace() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Quiet> true </Quiet>\n\
            <Object><Key> a </Key><VersionId>null</VersionId></Object>\n\
            <Object><Key><![CDATA[\tb\n]]></Key></Object>\n\
            <Object><Key>c&amp;d </Key></Object></Delete>";
        let d = Delete::parse(body.as_bytes()).unwrap();
        let keys: Vec<&str> = d.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, vec![" a ", "\tb\n", "c&d "]);
        assert!(d.quiet);
        for bad in [
            "<Other/>",
            "<Delete><Object></Object></Delete>",
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            "<Delete><Quiet>maybe</Quiet></Delete>",
            "<Delete></Delete><Delete></Delete>",
        ] {
            assert!(Delete::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;&#x1;");
    }
}
