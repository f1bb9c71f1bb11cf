//! Dimension names: from dimension scales (`DIMENSION_LIST` → the scale dataset's name), else
//! `phony_dim_N` exactly as h5netcdf's `phony_dims="sort"` (what xarray shows) names them.

use std::cmp::Ordering;
use std::collections::HashMap;

/// What naming needs to know about one dataset.
pub(super) struct Dataset<'a> {
    pub path: &'a str,
    pub addr: u64,
    pub shape: &'a [u64],
    /// A dimension scale (`CLASS = "DIMENSION_SCALE"`).
    pub is_scale: bool,
    /// Per axis, the object header address of its dimension scale (`DIMENSION_LIST`).
    pub scales: Option<&'a [Option<u64>]>,
    /// netCDF-4's `_Netcdf4Dimid`.
    pub dimid: Option<i64>,
}

impl Dataset<'_> {
    fn group(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(g, _)| g)
    }

    fn scale_of(&self, axis: usize) -> Option<u64> {
        self.scales
            .filter(|s| s.len() == self.shape.len())
            .and_then(|s| s[axis])
    }
}

/// The last component of a path.
pub(super) fn leaf(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Dimension names for all datasets of a file.
pub(super) struct Namer {
    /// Scale dataset address → dimension name.
    scales: HashMap<u64, String>,
    /// Per group: its dimensions (name, length), scales first, then phony dimensions.
    groups: HashMap<String, Vec<(String, u64)>>,
}

impl Namer {
    /// Plans the phony dimensions: groups in depth-first order, datasets by name; in each group
    /// one dimension per distinct unlabeled length (as many as the most axes of that length in
    /// one dataset), less the scales of that length; numbered across the file after the largest
    /// netCDF-4 dimension id.
    pub(super) fn new(sets: &[Dataset]) -> Self {
        let scales = sets.iter().map(|d| (d.addr, leaf(d.path).to_string())).collect();
        let mut order: Vec<&Dataset> = sets.iter().collect();
        order.sort_by(|a, b| by_components(a.group(), b.group()).then_with(|| a.path.cmp(b.path)));
        let mut next = sets
            .iter()
            .filter_map(|d| d.dimid)
            .max()
            .map_or(0, |m| m.saturating_add(1));
        let mut groups: HashMap<String, Vec<(String, u64)>> = HashMap::new();
        let mut i = 0;
        while i < order.len() {
            let group = order[i].group();
            let members: Vec<&Dataset> = order[i..]
                .iter()
                .take_while(|d| d.group() == group)
                .copied()
                .collect();
            i += members.len();
            let mut dims: Vec<(String, u64)> = members
                .iter()
                .filter(|d| d.is_scale)
                .filter_map(|d| d.shape.first().map(|&n| (leaf(d.path).to_string(), n)))
                .collect();
            // Distinct unlabeled lengths in order of appearance, with their largest count.
            let mut wanted: Vec<(u64, usize)> = Vec::new();
            for d in members.iter().filter(|d| !d.is_scale) {
                let mut here: Vec<(u64, usize)> = Vec::new();
                for (axis, &n) in d.shape.iter().enumerate() {
                    if d.scale_of(axis).is_none() {
                        bump(&mut here, n);
                    }
                }
                for (n, c) in here {
                    match wanted.iter_mut().find(|(m, _)| *m == n) {
                        Some(w) => w.1 = w.1.max(c),
                        None => wanted.push((n, c)),
                    }
                }
            }
            for (n, c) in wanted {
                let labeled = dims.iter().filter(|(_, m)| *m == n).count();
                for _ in labeled..c {
                    dims.push((format!("phony_dim_{next}"), n));
                    next += 1;
                }
            }
            groups.insert(group.to_string(), dims);
        }
        Namer { scales, groups }
    }

    /// The dimension names of `d`.
    pub(super) fn dims(&self, d: &Dataset) -> Vec<String> {
        let group = self.groups.get(d.group());
        let mut seen: Vec<(u64, usize)> = Vec::new();
        let mut out = Vec::with_capacity(d.shape.len());
        for (axis, &n) in d.shape.iter().enumerate() {
            let named = d.scale_of(axis).and_then(|a| self.scales.get(&a)).cloned();
            let name = match named {
                Some(name) => name,
                None if d.is_scale && axis == 0 => leaf(d.path).to_string(),
                None => {
                    // The k-th axis of this length takes the group's k-th dimension of it.
                    let k = bump(&mut seen, n) - 1;
                    group
                        .and_then(|g| g.iter().filter(|(_, m)| *m == n).nth(k))
                        .map_or_else(|| format!("phony_dim_{axis}"), |(name, _)| name.clone())
                }
            };
            out.push(name);
        }
        out
    }
}

/// Counts one more `n`; returns its count.
fn bump(counts: &mut Vec<(u64, usize)>, n: u64) -> usize {
    match counts.iter_mut().find(|(m, _)| *m == n) {
        Some(c) => {
            c.1 += 1;
            c.1
        }
        None => {
            counts.push((n, 1));
            1
        }
    }
}

/// Depth-first (pre-order) order of group paths.
fn by_components(a: &str, b: &str) -> Ordering {
    let parts = |p: &str| {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(path: &'a str, shape: &'a [u64]) -> Dataset<'a> {
        Dataset {
            path,
            addr: path.len() as u64,
            shape,
            is_scale: false,
            scales: None,
            dimid: None,
        }
    }

    /// Names h5netcdf 1.x (`phony_dims="sort"`) gives these datasets of an h5py-written file.
    #[test]
    fn phony_dims_follow_h5netcdf_sort() {
        let sets = [
            set("big_endian", &[3, 4, 5]),
            set("bt2", &[20, 20]),
            set("masked", &[4, 4]),
            set("many/attrs", &[2, 3]),
            set("many/deep/v00", &[3]),
        ];
        let namer = Namer::new(&sets);
        let dims: Vec<Vec<String>> = sets.iter().map(|d| namer.dims(d)).collect();
        assert_eq!(dims[0], ["phony_dim_0", "phony_dim_1", "phony_dim_3"]);
        assert_eq!(dims[1], ["phony_dim_4", "phony_dim_5"]);
        assert_eq!(dims[2], ["phony_dim_1", "phony_dim_2"]);
        assert_eq!(dims[3], ["phony_dim_6", "phony_dim_7"]);
        assert_eq!(dims[4], ["phony_dim_8"]);
    }
}
