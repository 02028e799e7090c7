//! Product groups of ГИС МТ (spec `codes.md` §7) and the layouts their codes use, loaded once from the
//! embedded data file `data/groups.toml`. Answers "which groups can a code of this layout belong to".

use crate::layout::Layout;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// One product group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductGroup {
    /// Numeric id as in True API `groupIds`, ЛМ ЧЗ v2 and ТС ПИоТ v3 `pg`.
    pub id: u16,
    /// Short code, e.g. `milk`.
    pub code: String,
    /// Human-readable name.
    pub name: String,
    /// Layouts codes of this group use (Russian codes; EAEU codes may differ, §8).
    pub layouts: Vec<Layout>,
    /// True when the layout is the spec's default guess rather than confirmed.
    #[serde(default)]
    pub inferred: bool,
}

#[derive(Deserialize)]
struct GroupsFile {
    group: Vec<ProductGroup>,
}

/// The embedded product-group table, in id order.
pub fn all() -> &'static [ProductGroup] {
    static TABLE: OnceLock<Vec<ProductGroup>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The file is part of the crate and covered by a test; a parse failure is a build defect.
        let file: GroupsFile =
            toml::from_str(include_str!("../data/groups.toml")).expect("embedded data/groups.toml is valid");
        let mut v = file.group;
        v.sort_by_key(|g| g.id);
        v
    })
}

/// The group with numeric id `id`.
pub fn by_id(id: u16) -> Option<&'static ProductGroup> {
    all().iter().find(|g| g.id == id)
}

/// The group with short code `code` (e.g. `milk`).
pub fn by_code(code: &str) -> Option<&'static ProductGroup> {
    all().iter().find(|g| g.code == code)
}

/// Ids of the groups whose Russian codes use `layout`. KI-only codes can belong to any group.
pub fn candidates(layout: Layout) -> Vec<u16> {
    all().iter().filter(|g| layout == Layout::KiOnly || g.layouts.contains(&layout)).map(|g| g.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_with_known_ids() {
        assert_eq!(all().len(), 44);
        assert_eq!(by_id(8).unwrap().code, "milk");
        assert_eq!(by_id(2).unwrap().code, "shoes");
        assert_eq!(by_code("ncp").unwrap().id, 16);
        for missing in [18, 24, 29, 30, 46, 47, 49] {
            assert!(by_id(missing).is_none(), "{missing}");
        }
        let mut ids: Vec<u16> = all().iter().map(|g| g.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), all().len(), "duplicate group id");
    }

    #[test]
    fn candidates_per_layout() {
        assert_eq!(candidates(Layout::TobaccoPack), vec![3, 12, 16]);
        assert_eq!(candidates(Layout::TobaccoBlock), vec![3, 12]);
        assert_eq!(candidates(Layout::Milk), vec![8]);
        assert_eq!(candidates(Layout::Beer), vec![15, 22]);
        assert_eq!(candidates(Layout::S13T88), vec![2]);
        assert_eq!(candidates(Layout::S20T44), vec![6]);
        assert!(candidates(Layout::S13T93).contains(&13));
        assert!(candidates(Layout::S13T44).contains(&7));
        // every layout except KI-only is used by some group
        for l in Layout::ALL {
            assert!(!candidates(l).is_empty(), "{l}");
        }
    }
}
