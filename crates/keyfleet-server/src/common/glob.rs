//! The wildcards of EC2 filters and IAM policies: `*` matches any run of characters, `?`
//! exactly one; EC2's filters also let `\\` escape either (AWS User Guide, "Filter your
//! resources"; IAM User Guide, "IAM JSON policy elements: Condition operators").

/// Matches `text` against an EC2 filter pattern (`\` escapes a wildcard).
pub fn ec2_match(pattern: &str, text: &str) -> bool {
    glob_match(&tokens(pattern, true), text)
}

/// Matches `text` against an IAM pattern: the same wildcards, but `\` is an ordinary character.
pub fn iam_match(pattern: &str, text: &str) -> bool {
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
            Some(Token::Char(c)) if Some(c) == text.get(t) => {
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
    pattern.get(p..).unwrap_or_default().iter().all(|tok| matches!(tok, Token::Any))
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
    use super::ec2_match as m;

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
