//! The house rules, checked on the source tree (PRODUCT.md §10, docs/architecture.md):
//! surfaces only parse and render — no route, dialect or console module reaches the store
//! or another surface; the server's top-level modules import each other without a circle;
//! no source file grows past 600 lines; dialects declare their types without macros; the
//! store's bench-only seeding stays behind its `seed` feature, off the `Store` trait.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest source file allowed, in lines.
const MAX_LINES: usize = 600;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !matches!(p.file_name().and_then(|n| n.to_str()), Some("target" | "node_modules" | ".git")) {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Source text without comments (so a doc comment may name what code may not use).
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn server_src() -> PathBuf {
    workspace().join("crates/server/src")
}

#[test]
fn surfaces_do_not_reach_the_store_or_each_other() {
    let src = server_src();
    let mut broken = vec![];
    for (surface, forbidden) in [
        ("routes", &["dbcloud_store", "crate::dialects", "crate::console", ".store."][..]),
        ("dialects", &["dbcloud_store", "crate::routes", "crate::console", ".store."][..]),
        ("console", &["dbcloud_store", "crate::routes", "crate::dialects", ".store."][..]),
    ] {
        let mut files = vec![];
        rust_files(&src.join(surface), &mut files);
        assert!(!files.is_empty(), "no files under {surface}");
        for f in files {
            let code = code_of(&f);
            for word in forbidden {
                if code.contains(word) {
                    broken.push(format!("{} uses `{word}`", f.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    // One dialect does not import another.
    let dialects: Vec<String> = std::fs::read_dir(src.join("dialects"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for d in &dialects {
        let mut files = vec![];
        rust_files(&src.join("dialects").join(d), &mut files);
        for f in files {
            let code = code_of(&f);
            for other in dialects.iter().filter(|o| *o != d) {
                if code.contains(&format!("dialects::{other}")) {
                    broken.push(format!("{} imports the {other} dialect", f.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "surfaces must call the service layer (dbcloud_app) only:\n{}", broken.join("\n"));
}

#[test]
fn server_modules_import_each_other_without_a_circle() {
    let src = server_src();
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let tops: BTreeSet<String> =
        std::fs::read_dir(&src).unwrap().flatten().map(|e| e.path().file_stem().unwrap().to_string_lossy().into_owned()).filter(|n| n != "lib").collect();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" {
            continue;
        }
        let code = code_of(&f);
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if name != top && tops.contains(&name) {
                graph.entry(top.clone()).or_default().insert(name);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(n: &str, g: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(cycle) = visit(n, &graph, &mut vec![], &mut done) {
            panic!("import circle between the server's modules: {}\n(graph: {graph:?})", cycle.join(" → "));
        }
    }
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    let root = workspace();
    let mut files = vec![];
    rust_files(&root.join("crates"), &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.strip_prefix(&root).unwrap().display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files by what they hold:\n{}", long.join("\n"));
}

#[test]
fn dialects_declare_their_types_plainly_not_by_macro() {
    let src = server_src();
    let mut files = vec![];
    rust_files(&src.join("dialects"), &mut files);
    let with_macros: Vec<String> =
        files.iter().filter(|f| code_of(f).contains("macro_rules!")).map(|f| f.strip_prefix(&src).unwrap().display().to_string()).collect();
    assert!(with_macros.is_empty(), "write the dialect's error type and extractors as plain types (axum's derives), not macros:\n{}", with_macros.join("\n"));
}

#[test]
fn seeding_stays_out_of_the_production_store() {
    let src = workspace().join("crates/store/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    assert!(files.iter().any(|f| f.ends_with("seed.rs")), "crates/store/src/seed.rs is gone");
    let outside: Vec<String> = files
        .iter()
        .filter(|f| !matches!(f.file_name().and_then(|n| n.to_str()), Some("seed.rs" | "seed_impl.rs")) && code_of(f).contains("fn seed_clusters"))
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(outside.is_empty(), "bench-only seeding belongs to dbcloud_store::seed (feature `seed`), not the Store trait:\n{}", outside.join("\n"));
}
