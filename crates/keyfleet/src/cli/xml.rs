//! Just enough XML to read AWS's responses: elements, text and the five entities. The
//! tree wipes its text on drop because a `CreateKeyPair` response holds a private key.

use zeroize::Zeroize;

/// One element with its text and children.
#[derive(Debug, Default, Clone)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Drop for Element {
    fn drop(&mut self) {
        self.text.zeroize();
    }
}

impl Element {
    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child with this name.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The `<item>`s of an EC2 set such as `keySet` or `tagSet`.
    pub fn items<'a>(&'a self, set: &str) -> impl Iterator<Item = &'a Element> + 'a {
        self.child(set).into_iter().flat_map(|s| s.children.iter().filter(|c| c.name == "item"))
    }

    /// The `<member>`s of an IAM list such as `Users`.
    pub fn members<'a>(&'a self, list: &str) -> impl Iterator<Item = &'a Element> + 'a {
        self.child(list).into_iter().flat_map(|s| s.children.iter().filter(|c| c.name == "member"))
    }
}

/// Parses a document into its root element.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        if let Some(top) = stack.last_mut() {
            unescape_into(&rest[..open], &mut top.text);
        }
        let close = rest[open..].find('>').ok_or("unterminated tag")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let done = stack.pop().ok_or("unbalanced")?;
            if done.name != name.trim() {
                return Err(format!("expected </{}>, found </{name}>", done.name));
            }
            stack.last_mut().ok_or("unbalanced")?.children.push(done);
            continue;
        }
        let self_closing = tag.ends_with('/');
        let name = tag.trim_end_matches('/').split_whitespace().next().unwrap_or_default().to_owned();
        let element = Element { name, text: String::new(), children: Vec::new() };
        if self_closing {
            stack.last_mut().ok_or("unbalanced")?.children.push(element);
        } else {
            stack.push(element);
        }
    }
    let mut document = stack.pop().ok_or("empty document")?;
    if !stack.is_empty() {
        return Err("unclosed element".into());
    }
    match document.children.len() {
        1 => Ok(document.children.remove(0)),
        _ => Err("expected one root element".into()),
    }
}

fn unescape_into(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let entity_end = rest[amp..].find(';').map(|i| i + amp);
        let replacement = entity_end.and_then(|end| match &rest[amp + 1..end] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => None,
        });
        match (replacement, entity_end) {
            (Some(c), Some(end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[amp + 1..];
            }
        }
    }
    out.push_str(rest);
}
