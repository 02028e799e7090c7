//! Loading: TOML text → [`Scenario`], with `toml` error spans turned into `file:line:col`.

use std::path::Path;

use super::error::{Location, ScenarioError};
use serde::Deserialize;
use toml::Spanned;

use super::model::{Assertion, Scenario, Step};
use super::validate;

/// Converts a byte offset of `text` to a 1-based line and column (columns count characters).
/// Offsets past the end or inside a character are clamped.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The [`Location`] of byte `offset` in `text`.
pub fn locate(file: &str, text: &str, offset: usize) -> Location {
    let (line, col) = line_col(text, offset);
    Location { file: file.to_string(), line, col }
}

/// Parses and validates a scenario. `name` is used in error messages (usually the path). A world
/// `base` other than `default` is not opened (use [`load_file`] for that).
pub fn load_str(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    load_with(name, text, None)
}

/// Reads, parses and validates a scenario file; a world `base` path is resolved against its folder.
pub fn load_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::Io { file: name.clone(), message: e.to_string() })?;
    load_with(&name, &text, Some(path.parent().unwrap_or(Path::new("."))))
}

fn load_with(name: &str, text: &str, base_dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
        let start = e.span().map_or(0, |s| s.start);
        let message = e.message().trim_end().replace('\n', "; ");
        let (offset, message) = refine(text, start).unwrap_or((start, message));
        ScenarioError::Syntax { at: locate(name, text, offset), message }
    })?;
    scenario.source = name.to_string();
    validate::validate(&scenario, text, base_dir)?;
    Ok(scenario)
}

/// The tables of the arrays whose items serde cannot point into (internally tagged enums are read
/// through a buffer, so `toml` reports the whole array).
#[derive(Deserialize)]
struct Items {
    #[serde(default)]
    steps: Vec<Spanned<toml::Value>>,
    #[serde(default, rename = "assert")]
    asserts: Vec<Spanned<toml::Value>>,
}

/// Reads one item, for its error only.
type ItemCheck = fn(toml::Value) -> Result<(), toml::de::Error>;

/// When a shape error points at the start of `[[steps]]` or `[[assert]]`, finds the item that fails
/// and, inside it, the key or value the message names. Returns the better offset and message.
fn refine(text: &str, start: usize) -> Option<(usize, String)> {
    let items: Items = toml::from_str(text).ok()?;
    let (label, list, check): (&str, &[Spanned<toml::Value>], ItemCheck) =
        if items.steps.first().is_some_and(|s| s.span().start == start) {
            ("step", &items.steps, |v| Step::deserialize(v).map(drop))
        } else if items.asserts.first().is_some_and(|s| s.span().start == start) {
            ("assert", &items.asserts, |v| Assertion::deserialize(v).map(drop))
        } else {
            return None;
        };
    for (i, item) in list.iter().enumerate() {
        let Err(e) = check(item.get_ref().clone()) else { continue };
        let mut item_message = e.message().trim_end().replace('\n', "; ");
        if item_message.starts_with("unknown field `expect`") {
            item_message.push_str(" (only scan, return and close steps take `expect`)");
        }
        let span = item.span();
        let slice = &text[span.clone()];
        let within = token_offset(slice, &item_message).unwrap_or(0);
        let kind = item.get_ref().get(if label == "step" { "do" } else { "that" }).and_then(|v| v.as_str());
        let prefix = match kind {
            Some(kind) => format!("{label} {} ({kind})", i + 1),
            None => format!("{label} {}", i + 1),
        };
        return Some((span.start + within, format!("{prefix}: {item_message}")));
    }
    None
}

/// Where, in an item's text, the key or value a serde message quotes is written.
fn token_offset(slice: &str, message: &str) -> Option<usize> {
    let quoted = |open: char, close: char| -> Option<&str> {
        let from = message.find(open)? + open.len_utf8();
        let len = message[from..].find(close)?;
        Some(&message[from..from + len])
    };
    if message.starts_with("unknown field") {
        let key = quoted('`', '`')?;
        return slice.match_indices(key).map(|(i, _)| i).find(|&i| {
            let before = slice[..i].trim_end_matches([' ', '\t']).chars().next_back();
            let after = slice[i + key.len()..].trim_start_matches([' ', '\t']).chars().next();
            matches!(before, None | Some('\n' | '{' | ',')) && after == Some('=')
        });
    }
    let value = if message.starts_with("unknown variant") { quoted('`', '`') } else { quoted('"', '"') }?;
    slice.find(&format!("\"{value}\"")).or_else(|| slice.find(&format!("'{value}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nб = \"ж\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3), "after the two-byte б");
        assert_eq!(line_col(text, 13), (2, 6), "inside ж is clamped back");
        assert_eq!(line_col(text, 10_000), (3, 1), "past the end is clamped");
    }

    #[test]
    fn tokens_are_found_in_key_and_value_position() {
        let slice = "[[steps]]\ndo = \"open\"\nkind = \"sale\"\n kinder = 1\n";
        assert_eq!(token_offset(slice, "unknown field `kinder`, expected `id`"), Some(37));
        assert_eq!(token_offset(slice, "unknown variant `sale`, expected …"), Some(29));
        assert_eq!(token_offset(slice, "unknown field `nope`"), None);
        assert_eq!(token_offset(slice, "missing field `kind`"), None);
    }
}
