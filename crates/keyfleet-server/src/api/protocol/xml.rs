//! A minimal XML writer: elements and escaped text appended to one buffer, which is all
//! AWS's response shapes need. The buffer zeroizes on drop because a `CreateKeyPair`
//! response carries a private key.

use zeroize::Zeroizing;

/// Appends XML to a buffer.
pub struct XmlWriter {
    out: Zeroizing<String>,
}

impl XmlWriter {
    /// A writer with room for `capacity` bytes, starting with the XML declaration.
    pub fn new(capacity: usize) -> Self {
        let mut out = Zeroizing::new(String::with_capacity(capacity));
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        XmlWriter { out }
    }

    /// `<name>`
    pub fn start(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name xmlns="namespace">`
    pub fn start_ns(&mut self, name: &str, namespace: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(namespace);
        self.out.push_str("\">");
        self
    }

    /// `</name>`
    pub fn end(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// `<name/>`
    pub fn empty(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
        self
    }

    /// `<name>text</name>` with `text` escaped.
    pub fn text(&mut self, name: &str, text: &str) -> &mut Self {
        self.start(name);
        escape_into(text, &mut self.out);
        self.end(name)
    }

    /// The finished document.
    pub fn finish(self) -> Zeroizing<String> {
        self.out
    }
}

/// Escapes text content. Quotes stay literal, as in AWS's messages (`The key pair 'x' …`);
/// this writer emits no attributes but the constant namespace.
fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::XmlWriter;

    #[test]
    fn text_is_escaped() {
        let mut w = XmlWriter::new(64);
        w.text("keyName", "a<b>&\"c'");
        assert!(w.finish().ends_with("<keyName>a&lt;b&gt;&amp;\"c'</keyName>"));
    }
}
