//! `cargo xtask tidy`: house rules that neither rustc nor clippy checks.
//!
//! 1. Dependency edges between workspace crates are the ones ARCHITECTURE.md allows.
//! 2. Every Rust file opens with a `//!` doc comment saying what it is for.
//! 3. No `todo!` or `unimplemented!` outside tests.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::tools::root;

/// Workspace crates and the workspace crates each may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("post-core", &[]),
    ("post-oracle", &["post-core"]),
    ("post-cuda", &["post-core", "post-oracle"]),
    ("post-init", &["post-core", "post-oracle"]),
    ("post-proof", &["post-core", "post-oracle"]),
    ("post-service", &["post-core", "post-oracle", "post-proof"]),
    ("post-cli", &["post-core", "post-oracle", "post-cuda", "post-init", "post-proof", "post-service"]),
    ("xtask", &[]),
];

/// Runs every check and reports all violations at once.
///
/// # Errors
/// When any rule is broken.
pub fn tidy() -> anyhow::Result<()> {
    let mut problems = Vec::new();
    check_edges(&mut problems)?;
    for file in rust_files(&root())? {
        check_file(&file, &mut problems)?;
    }
    if problems.is_empty() {
        eprintln!("tidy: ok");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("{} problem(s)", problems.len())
}

/// Names of workspace crates listed in the `[dependencies]` table of a manifest.
fn workspace_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        if ALLOWED.iter().any(|(c, _)| *c == name) {
            deps.push(name.to_string());
        }
    }
    deps
}

fn check_edges(problems: &mut Vec<String>) -> anyhow::Result<()> {
    for (krate, allowed) in ALLOWED {
        let path = root().join(krate).join("Cargo.toml");
        let manifest = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for dep in workspace_deps(&manifest) {
            if !allowed.contains(&dep.as_str()) {
                problems.push(format!("{krate} depends on {dep}, which ARCHITECTURE.md does not allow"));
            }
        }
    }
    Ok(())
}

fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if !(name.starts_with("target") || name.starts_with('.') || name == "dist") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_test_path(path: &Path) -> bool {
    path.components().any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "benches" | "fuzz")))
}

fn check_file(path: &Path, problems: &mut Vec<String>) -> anyhow::Result<()> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let rel = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if !first.starts_with("//!") {
        problems.push(format!("{rel}: does not open with a `//!` comment saying what it is for"));
    }
    if !is_test_path(path) {
        // Code after `#[cfg(test)]` is the file's test module.
        let body = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (no, line) in body.lines().enumerate() {
            if line.contains(concat!("todo", "!(")) || line.contains(concat!("unimplemented", "!(")) {
                problems.push(format!("{rel}:{}: a stub outside tests", no + 1));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dependencies_table_only() {
        let manifest = "[package]\nname = \"x\"\n[dependencies]\npost-core.workspace = true\npost-oracle = { path = \"../post-oracle\" }\nrayon = \"1\"\n[dev-dependencies]\npost-proof.workspace = true\n";
        assert_eq!(workspace_deps(manifest), vec!["post-core".to_string(), "post-oracle".to_string()]);
    }
}
