//! A scenario's settings tables (`[kkt]`, `[tspiot]`, `[true_api]`, `[lm]`) applied to the emulators'
//! options: each table is a JSON merge patch (RFC 7386) of the options' serialized form, and the
//! result must read back as valid options (unknown names are refused by the options' own serde).

use serde::de::DeserializeOwned;
use serde::Serialize;

use markcert_emulators::kkt::options::merge_patch;
use markcert_emulators::stack::StackOptions;

use crate::scenario::Scenario;

/// `base` with `patch` merged in; the error says which name or value was refused.
pub fn patched<T: Serialize + DeserializeOwned>(base: &T, patch: &serde_json::Value) -> Result<T, String> {
    if !patch.is_object() {
        return Err("must be a table".into());
    }
    let mut current = serde_json::to_value(base).map_err(|e| e.to_string())?;
    merge_patch(&mut current, patch);
    serde_json::from_value(current).map_err(|e| e.to_string())
}

/// The stack options of a scenario: the defaults with its settings tables applied.
pub fn stack_options(s: &Scenario) -> Result<StackOptions, String> {
    let mut o = StackOptions::default();
    if let (Some(patch), Some(kkt)) = (&s.kkt, o.kkt.as_mut()) {
        kkt.options = kkt.options.patched(patch).map_err(|e| format!("kkt: {e}"))?;
    }
    if let (Some(patch), Some(t)) = (&s.tspiot, o.tspiot.as_mut()) {
        t.options = patched(&t.options, patch).map_err(|e| format!("tspiot: {e}"))?;
    }
    if let Some(patch) = &s.true_api {
        o.true_api = patched(&o.true_api, patch).map_err(|e| format!("true_api: {e}"))?;
    }
    if let Some(patch) = &s.lm {
        o.lm = patched(&o.lm, patch).map_err(|e| format!("lm: {e}"))?;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use markcert_emulators::tspiot::options::{InstPlacement, TsPiotOptions};

    #[test]
    fn a_patch_changes_only_what_it_names_and_refuses_unknown_names() {
        let base = TsPiotOptions::default();
        let p: TsPiotOptions =
            patched(&base, &serde_json::json!({"inst_placement": "code", "upstream": {"block_s": 60}}))
                .unwrap();
        assert_eq!(p.inst_placement, InstPlacement::Code);
        assert_eq!(p.upstream.block_s, 60);
        assert_eq!(p.upstream.online_budget_ms, base.upstream.online_budget_ms);
        let err = patched(&base, &serde_json::json!({"no_such_setting": 1})).unwrap_err();
        assert!(err.contains("no_such_setting"), "{err}");
        assert!(patched(&base, &serde_json::json!(3)).is_err());
    }
}
