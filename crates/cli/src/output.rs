//! Rendering: terminal-width tables, JSON (the API's own objects) and YAML.

use crate::error::{CliError, Result};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human-readable table.
    #[default]
    Table,
    /// The API's JSON objects (lists: the items array).
    Json,
    /// The same data as YAML.
    Yaml,
}

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if !header.is_empty() {
        t.set_header(header.to_vec());
    }
    t
}

/// A cell's text for a JSON value: strings bare, null as `-`, arrays of scalars joined.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => a.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::Array(a) => a.iter().map(object_line).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}

fn object_line(v: &Value) -> String {
    match v.as_object() {
        Some(o) => o.iter().map(|(k, x)| format!("{k}={}", cell(x))).collect::<Vec<_>>().join(" "),
        None => v.to_string(),
    }
}

/// Writes to stdout; a closed pipe (e.g. `| head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Prints structured data as JSON or YAML (pretty).
pub fn print_data(format: Format, v: &Value) -> Result<()> {
    let text = match format {
        Format::Yaml => serde_norway::to_string(v).map_err(|e| CliError::Network(format!("rendering YAML: {e}")))?,
        _ => serde_json::to_string_pretty(v).map_err(|e| CliError::Network(format!("rendering JSON: {e}")))? + "\n",
    };
    emit(&text);
    Ok(())
}

/// A table column: its header and how to extract the cell from an item.
pub type Column<'a> = (&'a str, &'a dyn Fn(&Value) -> String);

/// Prints a list: a table of `columns` (header, extractor) or the items as JSON/YAML.
pub fn print_list(format: Format, items: &[Value], columns: &[Column<'_>]) -> Result<()> {
    if format != Format::Table {
        return print_data(format, &Value::Array(items.to_vec()));
    }
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let mut t = new_table(&header);
    for item in items {
        t.add_row(columns.iter().map(|(_, f)| f(item)).collect::<Vec<_>>());
    }
    emit(&format!(
        "{t}
"
    ));
    Ok(())
}

/// A column extractor for a top-level field.
pub fn field(name: &'static str) -> impl Fn(&Value) -> String {
    move |v: &Value| cell(v.get(name).unwrap_or(&Value::Null))
}

/// Prints one object: a key/value table of every field, or JSON/YAML.
pub fn print_object(format: Format, v: &Value) -> Result<()> {
    if format != Format::Table {
        return print_data(format, v);
    }
    match v.as_object() {
        Some(map) => {
            let mut t = new_table(&["Field", "Value"]);
            for (k, val) in map {
                t.add_row(vec![k.clone(), cell(val)]);
            }
            emit(&format!(
                "{t}
"
            ));
        }
        None => emit(&format!("{}\n", cell(v))),
    }
    Ok(())
}

/// Prints `(field, value)` rows in the given order as a key/value table.
pub fn print_rows(rows: &[(String, String)]) {
    let mut t = new_table(&["Field", "Value"]);
    for (k, v) in rows {
        t.add_row(vec![k.clone(), v.clone()]);
    }
    emit(&format!("{t}\n"));
}

/// Prints a one-line confirmation in table mode, or the object as JSON/YAML.
pub fn print_done(format: Format, message: &str, v: &Value) -> Result<()> {
    if format == Format::Table {
        emit(&format!("{message}\n"));
        Ok(())
    } else {
        print_data(format, v)
    }
}
