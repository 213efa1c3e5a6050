//! A plausible synthetic country for demos and benchmarks: one country, regions, districts and
//! health areas whose rectangles tile their parent exactly, health facilities as points inside
//! their area, six groups, and a second version of the same source with differences (renamed,
//! closed, moved and new facilities) for comparison work. Deterministic for a given seed.

use anyhow::Context;
use iaso_domain::{AccountId, DataSourceId, OrgUnitTypeId, ProjectId, SourceVersionId};
use iaso_geo::{Coord, MultiPolygon, Point, Polygon};
use iaso_store::org_unit_types::{insert_org_unit_type, TypeChanges};
use iaso_store::org_units::{insert_org_units_bulk, reserve_org_unit_ids, BulkOrgUnit};
use iaso_store::Store;
use std::time::Instant;

/// splitmix64: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_add(0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const SYLLABLES: &[&str] = &[
    "ba", "bo", "da", "di", "do", "fa", "ga", "go", "ka", "ki", "ko", "kou", "la", "li", "lo",
    "ma", "mi", "mo", "na", "ni", "no", "ou", "pa", "ra", "sa", "si", "so", "ta", "ti", "to", "wa",
    "ya", "za", "zi", "dou", "gue", "tan", "ben", "sen", "gan", "kan", "tin", "ran",
];

fn place_name(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
    }
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// A DHIS2-like 11-character uid.
fn uid(rng: &mut Rng) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = String::with_capacity(11);
    s.push(LETTERS[rng.below(LETTERS.len())] as char);
    for _ in 0..10 {
        s.push(ALNUM[rng.below(ALNUM.len())] as char);
    }
    s
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon {
    MultiPolygon::new(vec![Polygon::new(vec![vec![
        Coord::new(x0, y0),
        Coord::new(x1, y0),
        Coord::new(x1, y1),
        Coord::new(x0, y1),
        Coord::new(x0, y0),
    ]])])
}

#[derive(Debug, Clone)]
pub struct CountrySpec {
    /// Total number of units of the first version.
    pub units: usize,
    pub seed: u64,
    /// Also create version 2 of the source, with differences.
    pub second_version: bool,
}

#[derive(Debug)]
pub struct CountryReport {
    pub second_version: Option<SourceVersionId>,
    pub units: usize,
    pub levels: [usize; 5],
    pub seconds: f64,
}

/// One node before insertion: level 0..=4, parent index, box, point.
struct Node {
    level: usize,
    parent: Option<usize>,
    name: String,
    source_ref: String,
    bbox: [f64; 4],
    point: Option<Point>,
    status: &'static str,
}

/// Splits a box into `n` cells (a near-square grid).
fn split(b: [f64; 4], n: usize) -> Vec<[f64; 4]> {
    let n = n.max(1);
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let mut cells = Vec::with_capacity(n);
    let (w, h) = ((b[2] - b[0]) / cols as f64, (b[3] - b[1]) / rows as f64);
    'outer: for r in 0..rows {
        for c in 0..cols {
            if cells.len() == n {
                break 'outer;
            }
            // The last cell of the last row stretches to the right edge, so cells tile the box.
            let last = cells.len() + 1 == n;
            let x1 = if last {
                b[2]
            } else {
                b[0] + w * (c + 1) as f64
            };
            cells.push([
                b[0] + w * c as f64,
                b[1] + h * r as f64,
                x1,
                b[1] + h * (r + 1) as f64,
            ]);
        }
    }
    // Fill the rest of the last row when it is short.
    if let Some(lastc) = cells.last_mut() {
        lastc[2] = b[2];
    }
    cells
}

fn plan(spec: &CountrySpec) -> (Vec<Node>, [usize; 5]) {
    let mut rng = Rng::new(spec.seed);
    let n = spec.units.max(5);
    let areas = (n / 100).clamp(1, 10_000);
    let districts = (areas / 10).clamp(1, 1_000);
    let regions = (districts / 10).clamp(1, 20);
    let facilities = n.saturating_sub(1 + regions + districts + areas);
    let mut nodes = Vec::with_capacity(n);
    let country_box = [0.5, 4.5, 10.5, 14.5];
    nodes.push(Node {
        level: 0,
        parent: None,
        name: "Republic of Iasoland".into(),
        source_ref: uid(&mut rng),
        bbox: country_box,
        point: None,
        status: "VALID",
    });
    let spread =
        |parents: Vec<usize>, count: usize, level: usize, nodes: &mut Vec<Node>, rng: &mut Rng| {
            let mut out = Vec::with_capacity(count);
            for (i, p) in parents.iter().enumerate() {
                let here = count / parents.len() + usize::from(i < count % parents.len());
                for cell in split(nodes[*p].bbox, here) {
                    let prefix = match level {
                        1 => "Region of ",
                        2 => "District of ",
                        _ => "Health area ",
                    };
                    nodes.push(Node {
                        level,
                        parent: Some(*p),
                        name: format!("{prefix}{}", place_name(rng)),
                        source_ref: uid(rng),
                        bbox: cell,
                        point: None,
                        status: "VALID",
                    });
                    out.push(nodes.len() - 1);
                }
            }
            out
        };
    let r = spread(vec![0], regions, 1, &mut nodes, &mut rng);
    let d = spread(r, districts, 2, &mut nodes, &mut rng);
    let a = spread(d, areas, 3, &mut nodes, &mut rng);
    const KINDS: &[&str] = &[
        "CSPS",
        "CSPS",
        "CSPS",
        "Dispensary",
        "Maternity",
        "CMA",
        "Clinic",
    ];
    for i in 0..facilities {
        let p = a[i % a.len()];
        let b = nodes[p].bbox;
        let x = b[0] + (b[2] - b[0]) * (0.05 + 0.9 * rng.f64());
        let y = b[1] + (b[3] - b[1]) * (0.05 + 0.9 * rng.f64());
        let roll = rng.below(1000);
        nodes.push(Node {
            level: 4,
            parent: Some(p),
            name: format!("{} {}", KINDS[rng.below(KINDS.len())], place_name(&mut rng)),
            source_ref: uid(&mut rng),
            bbox: [x, y, x, y],
            point: Some(Point::new(
                (x * 1e6).round() / 1e6,
                (y * 1e6).round() / 1e6,
                Some((150.0 + rng.f64() * 600.0).round()),
            )),
            status: if roll < 10 {
                "NEW"
            } else if roll < 15 {
                "REJECTED"
            } else {
                "VALID"
            },
        });
    }
    (nodes, [1, regions, districts, areas, facilities])
}

/// Creates the five types (linked to `project`, each allowing the next as child), returns
/// their ids by level.
async fn types(
    store: &Store,
    account: AccountId,
    project: ProjectId,
) -> anyhow::Result<[OrgUnitTypeId; 5]> {
    let defs = [
        ("Country", "Country", "COUNTRY"),
        ("Region", "Region", "REGION"),
        ("District", "District", "DISTRICT"),
        ("Health area", "Area", ""),
        ("Health facility", "HF", "HF"),
    ];
    let mut tx = store.db().begin().await?;
    let mut ids = [OrgUnitTypeId(0); 5];
    let mut child: Option<OrgUnitTypeId> = None;
    for depth in (0..5).rev() {
        let (name, short, cat) = defs[depth];
        let id = insert_org_unit_type(
            &mut tx,
            account,
            &TypeChanges {
                name: Some(name.into()),
                short_name: Some(short.into()),
                category: Some(Some(cat.to_string()).filter(|c| !c.is_empty())),
                depth: Some(Some(depth as i64)),
                project_ids: Some(vec![project]),
                sub_unit_type_ids: Some(child.into_iter().collect()),
                creatable_sub_unit_type_ids: Some(child.into_iter().collect()),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids[depth] = id;
        child = Some(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// Inserts one version of the planned country; `variant` applies version-2 differences.
async fn insert_version(
    store: &Store,
    version: SourceVersionId,
    nodes: &[Node],
    type_ids: &[OrgUnitTypeId; 5],
    variant: Option<u64>,
) -> anyhow::Result<Vec<i64>> {
    let mut tx = store.db().begin().await?;
    let ids = reserve_org_unit_ids(&mut tx, nodes.len() + nodes.len() / 100 + 1)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut rng = Rng::new(variant.unwrap_or(0) ^ 0xD1FF);
    let area_indexes: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.level == 3)
        .map(|(i, _)| i)
        .collect();
    let mut paths: Vec<String> = Vec::with_capacity(nodes.len());
    let mut units = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        let mut parent = n.parent;
        let mut name = n.name.clone();
        let mut status = n.status;
        let mut point = n.point;
        if variant.is_some() && n.level == 4 {
            match rng.below(200) {
                0 => name = format!("{name} (renamed)"),
                1 => status = "REJECTED",
                2 => {
                    // Moved to another area (the point follows).
                    let a = area_indexes[rng.below(area_indexes.len())];
                    parent = Some(a);
                    let b = nodes[a].bbox;
                    point = Some(Point::new(
                        (b[0] + b[2]) / 2.0,
                        (b[1] + b[3]) / 2.0,
                        point.and_then(|p| p.z),
                    ));
                }
                _ => {}
            }
        }
        let id = ids[i];
        let path = match parent {
            Some(p) => format!("{}.{id}", paths[p]),
            None => id.to_string(),
        };
        paths.push(path.clone());
        units.push(BulkOrgUnit {
            id,
            parent_id: parent.map(|p| ids[p]),
            path,
            name,
            validation_status: status.into(),
            org_unit_type_id: Some(type_ids[n.level].get()),
            source_ref: Some(n.source_ref.clone()),
            code: String::new(),
            uuid: None,
            aliases: None,
            location: point,
            geom: (n.level < 4).then(|| rect(n.bbox[0], n.bbox[1], n.bbox[2], n.bbox[3])),
            opening_date: None,
            closed_date: None,
        });
    }
    // Version 2 also has new facilities (1%).
    if variant.is_some() {
        let extra = nodes.len() / 100;
        for k in 0..extra {
            let a = area_indexes[rng.below(area_indexes.len())];
            let b = nodes[a].bbox;
            let id = ids[nodes.len() + k];
            units.push(BulkOrgUnit {
                id,
                parent_id: Some(ids[a]),
                path: format!("{}.{id}", paths[a]),
                name: format!("New post {}", place_name(&mut rng)),
                validation_status: "NEW".into(),
                org_unit_type_id: Some(type_ids[4].get()),
                source_ref: Some(uid(&mut rng)),
                code: String::new(),
                uuid: None,
                aliases: None,
                location: Some(Point::new(
                    b[0] + (b[2] - b[0]) * rng.f64(),
                    b[1] + (b[3] - b[1]) * rng.f64(),
                    None,
                )),
                geom: None,
                opening_date: None,
                closed_date: None,
            });
        }
    }
    insert_org_units_bulk(&mut tx, version, &units, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    Ok(units.iter().map(|u| u.id).collect())
}

/// Six groups over the facilities: ownership (public / private / faith-based, exclusive) and
/// setting (urban / rural), plus referral hospitals.
async fn groups(
    store: &Store,
    version: SourceVersionId,
    facility_ids: &[i64],
    seed: u64,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(seed ^ 0x6A0);
    let mut sets: [Vec<i64>; 6] = Default::default();
    for id in facility_ids {
        let owner = match rng.below(10) {
            0..=6 => 0,
            7..=8 => 1,
            _ => 2,
        };
        sets[owner].push(*id);
        sets[if rng.below(4) == 0 { 3 } else { 4 }].push(*id);
        if rng.below(50) == 0 {
            sets[5].push(*id);
        }
    }
    let names = [
        "Public",
        "Private",
        "Faith-based",
        "Urban",
        "Rural",
        "Referral hospitals",
    ];
    let mut tx = store.db().begin().await?;
    for (i, name) in names.iter().enumerate() {
        iaso_store::groups::insert_group(
            &mut tx,
            version,
            name,
            Some(&format!("grp{i}")),
            &sets[i],
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tx.commit().await?;
    Ok(())
}

/// Generates the country into `version` of `source` (and version 2 when asked).
pub async fn generate(
    store: &Store,
    account: AccountId,
    project: ProjectId,
    source: DataSourceId,
    version: SourceVersionId,
    spec: &CountrySpec,
) -> anyhow::Result<CountryReport> {
    let started = Instant::now();
    let (nodes, levels) = plan(spec);
    let type_ids = types(store, account, project).await?;
    let ids = insert_version(store, version, &nodes, &type_ids, None).await?;
    let facilities: Vec<i64> = nodes
        .iter()
        .zip(&ids)
        .filter(|(n, _)| n.level == 4)
        .map(|(_, id)| *id)
        .collect();
    groups(store, version, &facilities, spec.seed).await?;
    let second = if spec.second_version {
        let v2 = store
            .create_version(
                account,
                source,
                Some(2),
                Some("Synthetic update (renames, closures, moves, new posts)"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("creating version 2")?;
        let ids2 = insert_version(store, v2.id, &nodes, &type_ids, Some(spec.seed)).await?;
        let fac2: Vec<i64> = ids2
            .iter()
            .enumerate()
            .filter(|(i, _)| nodes.get(*i).is_none_or(|n| n.level == 4))
            .map(|(_, id)| *id)
            .collect();
        groups(store, v2.id, &fac2, spec.seed).await?;
        Some(v2.id)
    } else {
        None
    };
    store.analyze().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(CountryReport {
        second_version: second,
        units: nodes.len(),
        levels,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_tiles_and_nests() {
        let (nodes, levels) = plan(&CountrySpec {
            units: 5_000,
            seed: 1,
            second_version: false,
        });
        assert_eq!(nodes.len(), 5_000);
        assert_eq!(levels.iter().sum::<usize>(), 5_000);
        for n in &nodes {
            if let Some(p) = n.parent {
                let (c, pb) = (n.bbox, nodes[p].bbox);
                assert!(
                    c[0] >= pb[0] - 1e-9
                        && c[1] >= pb[1] - 1e-9
                        && c[2] <= pb[2] + 1e-9
                        && c[3] <= pb[3] + 1e-9
                );
                assert_eq!(nodes[p].level + 1, n.level);
            }
        }
        // Areas of one district cover it exactly (sum of areas).
        let area = |b: [f64; 4]| (b[2] - b[0]) * (b[3] - b[1]);
        let country = area(nodes[0].bbox);
        let regions: f64 = nodes
            .iter()
            .filter(|n| n.level == 1)
            .map(|n| area(n.bbox))
            .sum();
        assert!((country - regions).abs() < 1e-6);
    }
}
