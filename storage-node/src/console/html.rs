//! HTML that cannot forget to escape. Pages are built with [`html!`]: its format string
//! is the only markup taken as is; every argument goes through [`Render`], which escapes
//! text (`&`, `<`, `>`, `"`, `'`) and passes only [`Markup`] (itself made by `html!`)
//! through. Arguments must be positional: `{name}` captured from the scope would skip
//! the escaping, so the macro refuses such a format string at compile time
//! ([`no_inline_args`]).
//!
//! Worked example: `html!("<td title=\"{}\">{}</td>", key, link)` with `key` =
//! `a"<b` and `link` a `Markup` gives `<td title="a&quot;&lt;b">` followed by the link's
//! markup unchanged.

use std::fmt;

/// Markup made by [`html!`] (or joined from such): safe to send as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    pub fn new() -> Self {
        Self(String::new())
    }

    /// Only [`html!`] calls this, with its format string filled with rendered arguments.
    #[doc(hidden)]
    pub fn from_template(s: String) -> Self {
        Self(s)
    }

    pub fn push(&mut self, m: Markup) {
        self.0.push_str(&m.0);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Concatenates markup pieces.
    pub fn concat(parts: impl IntoIterator<Item = Markup>) -> Self {
        let mut out = Self::new();
        for p in parts {
            out.push(p);
        }
        out
    }
}

/// Something that can appear in a page: text is escaped, markup is not.
pub trait Render {
    fn render(&self, out: &mut String);
}

impl Render for Markup {
    fn render(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl Render for str {
    fn render(&self, out: &mut String) {
        escape(self, out);
    }
}

impl Render for String {
    fn render(&self, out: &mut String) {
        escape(self, out);
    }
}

impl<T: Render + ?Sized> Render for &T {
    fn render(&self, out: &mut String) {
        (**self).render(out);
    }
}

impl<T: Render> Render for Option<T> {
    fn render(&self, out: &mut String) {
        if let Some(v) = self {
            v.render(out);
        }
    }
}

macro_rules! render_number {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self, out: &mut String) {
                out.push_str(&self.to_string());
            }
        }
    )*};
}
render_number!(u8, u16, u32, u64, usize, i32, i64, f64, bool);

/// An argument of [`html!`]: displays as its rendering.
#[doc(hidden)]
pub struct Arg<'a, T: ?Sized>(pub &'a T);

impl<T: Render + ?Sized> fmt::Display for Arg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.0.render(&mut s);
        f.write_str(&s)
    }
}

/// Escapes text for an HTML element body or a quoted attribute value.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// True when a format string names no argument inline (`{x}`): only `{}`, `{0}`,
/// `{:...}` and the escapes `{{`, `}}` are allowed. Checked at compile time by [`html!`].
pub const fn no_inline_args(fmt: &str) -> bool {
    let b = fmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if i + 1 < b.len() && b[i + 1] == b'{' {
                i += 2;
                continue;
            }
            if i + 1 < b.len() {
                let n = b[i + 1];
                if n == b'_' || n.is_ascii_alphabetic() {
                    return false;
                }
            }
        }
        i += 1;
    }
    true
}

/// Builds [`Markup`] from a literal template and escaped arguments.
macro_rules! html {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::console::html::no_inline_args($fmt),
            "html!: pass arguments positionally so that they are escaped"
        );
        $crate::console::html::Markup::from_template(format!(
            $fmt $(, $crate::console::html::Arg(&$arg))*
        ))
    }};
}
pub(crate) use html;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_not() {
        let inner = html!("<b>{}</b>", "x&y");
        let m = html!("<td title=\"{}\">{}{}</td>", "a\"<b'", inner, 42u64);
        assert_eq!(
            m.as_str(),
            "<td title=\"a&quot;&lt;b&#39;\"><b>x&amp;y</b>42</td>"
        );
        let script = String::from("<script>alert(1)</script>");
        assert_eq!(
            html!("{}", script).as_str(),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(html!("{}", None::<&str>).as_str(), "");
    }

    #[test]
    fn inline_arguments_are_refused() {
        assert!(no_inline_args("<a href=\"{}\">{0}{:>3}{{x}}</a>"));
        assert!(!no_inline_args("<a>{name}</a>"));
        assert!(!no_inline_args("{_x}"));
    }
}
