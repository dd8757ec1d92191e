//! Text encodings of keys. Each file owns one format; `import` sniffs between them.

pub mod openssh;
pub mod pem;
pub mod ppk;
pub mod rfc4716;

/// Appends `text` to `out` in lines of at most `width` characters, each ending in `\n`.
pub(crate) fn wrap_lines(text: &str, width: usize, out: &mut String) {
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(width));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
}
