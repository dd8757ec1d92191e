//! The AWS Query protocol as IAM speaks it: the same form input as EC2, but responses wrapped
//! in `<{Action}Response><{Action}Result>…</{Action}Result><ResponseMetadata>` and errors as
//! `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.

use super::xml::XmlWriter;
use crate::api::error::ApiError;

/// IAM's namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Writes an IAM success document; `body` writes the result's members (none for empty results).
pub fn success(action: &str, request_id: &str, body: Option<&dyn Fn(&mut XmlWriter)>) -> zeroize::Zeroizing<String> {
    success_in(IAM_NAMESPACE, action, request_id, body)
}

/// Writes a success document in a service's `namespace`.
pub fn success_in(
    namespace: &str,
    action: &str,
    request_id: &str,
    body: Option<&dyn Fn(&mut XmlWriter)>,
) -> zeroize::Zeroizing<String> {
    let root = format!("{action}Response");
    let mut w = XmlWriter::new(1024);
    w.start_ns(&root, namespace);
    if let Some(body) = body {
        let result = format!("{action}Result");
        w.start(&result);
        body(&mut w);
        w.end(&result);
    }
    w.start("ResponseMetadata").text("RequestId", request_id).end("ResponseMetadata").end(&root);
    w.finish()
}

/// Writes an error document in a service's `namespace`; server-side failures are
/// `Receiver`, the rest `Sender`.
pub fn error(namespace: &str, err: &ApiError, request_id: &str) -> String {
    let kind = if err.status.is_server_error() { "Receiver" } else { "Sender" };
    let mut w = XmlWriter::new(256);
    w.start_ns("ErrorResponse", namespace).start("Error").text("Type", kind);
    w.text("Code", &err.code).text("Message", &err.message).end("Error");
    w.text("RequestId", request_id).end("ErrorResponse");
    w.finish().to_string()
}
