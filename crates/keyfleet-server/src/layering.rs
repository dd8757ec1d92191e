//! The layers import one way: `api/` → `service/` → `store/`, `runtime/` beside them, and
//! `common/` under all. A grep over each layer's sources is enough to hold that, and to hold
//! that only the operation pipeline (and Automation's step guard, which checks each step as
//! the caller) ever authorizes.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// Every line of `layer` that names one of `forbidden`, as `file:line: text`.
fn offences(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer)) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn layers_import_one_way() {
    let rules: [(&str, &[&str]); 5] = [
        ("common", &["crate::api", "crate::service", "crate::store", "crate::runtime", "super::super"]),
        ("runtime", &["crate::api", "crate::service", "super::super::api", "super::super::service"]),
        ("store", &["crate::api", "crate::service", "crate::runtime", "super::super::api"]),
        ("service", &["crate::api", "super::super::api"]),
        // The API reaches data only through the services: store types are fine, the store is not.
        ("api", &["dyn Store", "store::Store", ".store."]),
    ];
    let mut all = Vec::new();
    for (layer, forbidden) in rules {
        all.extend(offences(layer, forbidden));
    }
    assert!(all.is_empty(), "imports against the layering:\n{}", all.join("\n"));
}

#[test]
fn only_the_pipeline_authorizes() {
    let callers: Vec<String> = offences("api", &["authorize::check(", "check(&principal"])
        .into_iter()
        .filter(|o| !o.contains("api/operation.rs:") && !o.contains("api/ssm/automation.rs:"))
        .collect();
    assert!(callers.is_empty(), "authorization outside the pipeline:\n{}", callers.join("\n"));
}

/// The grep itself finds imports: `api/` does import `service/`.
#[test]
fn the_grep_finds_imports() {
    assert!(!offences("api", &["crate::service"]).is_empty(), "the grep found nothing it should have");
}
