//! `MaxResults` and `NextToken`, written once for every listing that pages. A token is the
//! offset of the next item as a decimal number: only this server issues them, and a listing
//! read again from the same offset gives the same rows when nothing changed between.

/// What one listing accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The smallest `MaxResults`.
    pub min: u32,
    /// The largest page.
    pub max: u32,
    /// The page size without `MaxResults`; `None`: everything from the token on.
    pub default: Option<u32>,
    /// A larger `MaxResults` is cut to `max` (true) or refused.
    pub cuts_larger: bool,
}

/// A page as the request asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// `MaxResults` as sent (the protocols send it as text or as a JSON number).
    pub max_results: Option<String>,
    /// `NextToken` of the previous page.
    pub next_token: Option<String>,
}

/// Why a page request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `MaxResults` is not a number in the listing's range.
    #[error("MaxResults {asked} is not between {min} and {max}")]
    MaxResults {
        /// As sent.
        asked: String,
        /// The smallest accepted.
        min: u32,
        /// The largest accepted.
        max: u32,
    },
    /// A token this server did not issue.
    #[error("paging token {0:?} was not issued here")]
    Token(String),
}

/// A checked page: where it starts and how many rows it holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    start: usize,
    size: Option<usize>,
}

impl PageRequest {
    /// The page, checked against the listing's limits.
    pub fn check(&self, limits: &Limits) -> Result<Page, PageError> {
        let size = match &self.max_results {
            None => limits.default,
            Some(text) => {
                let refused = || PageError::MaxResults { asked: text.clone(), min: limits.min, max: limits.max };
                match text.trim().parse::<u32>() {
                    Ok(n) if n < limits.min => return Err(refused()),
                    Ok(n) if n > limits.max && !limits.cuts_larger => return Err(refused()),
                    Ok(n) => Some(n.min(limits.max)),
                    Err(_) => return Err(refused()),
                }
            }
        };
        let start = match self.next_token.as_deref().filter(|t| !t.is_empty()) {
            None => 0,
            Some(token) => token.parse::<usize>().map_err(|_| PageError::Token(token.to_owned()))?,
        };
        Ok(Page { start, size: size.map(|n| n as usize) })
    }
}

impl Page {
    /// The page's rows of the whole listing, and the token of the next page if there is one.
    pub fn take<T>(self, rows: Vec<T>) -> (Vec<T>, Option<String>) {
        let total = rows.len();
        let start = self.start.min(total);
        let end = self.size.map_or(total, |size| start.saturating_add(size).min(total));
        let next = (end < total).then(|| end.to_string());
        (rows.into_iter().skip(start).take(end - start).collect(), next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC2: Limits = Limits { min: 5, max: 1000, default: None, cuts_larger: false };
    const CUT: Limits = Limits { min: 5, max: 500, default: None, cuts_larger: true };
    const SSM: Limits = Limits { min: 1, max: 10, default: Some(10), cuts_larger: false };

    fn request(max: Option<&str>, token: Option<&str>) -> PageRequest {
        PageRequest { max_results: max.map(str::to_owned), next_token: token.map(str::to_owned) }
    }

    #[test]
    fn pages_walk_the_listing_once() {
        let rows: Vec<u32> = (0..12).collect();
        let mut token = None;
        let mut seen = Vec::new();
        loop {
            let page = request(Some("5"), token.as_deref()).check(&EC2).unwrap();
            let (rows, next) = page.take(rows.clone());
            seen.extend(rows);
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn limits_and_tokens_are_checked() {
        assert!(matches!(request(Some("4"), None).check(&EC2), Err(PageError::MaxResults { .. })));
        assert!(matches!(request(Some("1001"), None).check(&EC2), Err(PageError::MaxResults { .. })));
        assert!(matches!(request(Some("ten"), None).check(&EC2), Err(PageError::MaxResults { .. })));
        assert!(matches!(request(Some("0"), None).check(&SSM), Err(PageError::MaxResults { .. })));
        assert_eq!(request(None, Some("x")).check(&EC2), Err(PageError::Token("x".into())));
        assert_eq!(request(Some("1000"), None).check(&CUT).unwrap().take((0..600).collect::<Vec<_>>()).0.len(), 500);
        assert_eq!(request(None, None).check(&SSM).unwrap().take((0..15).collect::<Vec<_>>()).0.len(), 10);
        assert_eq!(request(None, None).check(&EC2).unwrap(), Page { start: 0, size: None });
        assert_eq!(request(None, Some("99")).check(&EC2).unwrap().take(vec![1, 2]), (vec![], None));
    }
}
