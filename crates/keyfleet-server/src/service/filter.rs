//! EC2's `Filter.N` semantics (AWS User Guide, "Filter your resources"): values within a
//! filter are ORed, filters are ANDed, matching is case-sensitive, `*` matches any run of
//! characters, `?` exactly one, and `\` escapes either.

/// A decoded `Filter.N`: its name and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter name, e.g. `key-name` or `tag:project`.
    pub name: String,
    /// The values; a resource matches if any value matches.
    pub values: Vec<String>,
}

/// True if any pattern matches any candidate.
pub fn any_matches<'a>(patterns: &[String], candidates: impl IntoIterator<Item = &'a str> + Clone) -> bool {
    patterns.iter().any(|p| candidates.clone().into_iter().any(|c| wildcard_match(p, c)))
}

/// Matches `text` against an EC2 filter pattern (`\` escapes a wildcard).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    glob_match(&tokens(pattern, true), text)
}

/// Matches `text` against an IAM pattern: the same wildcards, but `\` is an ordinary character.
pub fn iam_wildcard_match(pattern: &str, text: &str) -> bool {
    glob_match(&tokens(pattern, false), text)
}

fn glob_match(pattern: &[Token], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // Iterative glob matching with single-star backtracking: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| matches!(tok, Token::Any))
}

enum Token {
    Any,
    One,
    Char(char),
}

fn tokens(pattern: &str, escapes: bool) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Token::Any,
            '?' => Token::One,
            '\\' if escapes => Token::Char(chars.next().unwrap_or('\\')),
            c => Token::Char(c),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wildcard_match as m;

    #[test]
    fn wildcards_follow_ec2_rules() {
        assert!(m("dev-*", "dev-alice"));
        assert!(m("*", ""));
        assert!(m("d?v", "dev"));
        assert!(!m("d?v", "dv"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("Dev", "dev"));
        assert!(m("lit\\*", "lit*"));
        assert!(!m("lit\\*", "litX"));
        assert!(m("*-prod", "db-prod"));
        assert!(!m("*-prod", "db-prod2"));
    }
}
