//! Stored presets: one row per (model, level) in the catalogue's SQLite file.
//!
//! Rows are keyed by the model's SHA-256, not its catalogue id or path, so
//! they survive the file being moved or re-indexed. A row holds a complete
//! preset (core values in columns, `model_specific_params` as JSON), where it
//! came from (`origin`) and whether a user edited it. `populate` keeps rows
//! that exist unless forced, so running it twice creates nothing the second
//! time; `set` edits single keys with the same validation as the presets
//! file; `reset` rebuilds a model's rows by the population rule.
//!
//! The catalogue owns the connection and the migration list; it appends
//! [`MIGRATIONS`] to its own.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::{Map, Value};

use super::tune::{ExampleStats, tune};
use super::validate::validate;
use super::{KEYS, Level, Params, Preset, PresetError, PresetTable};
use crate::catalog::{Base, CatalogEntry, Kind};

/// The presets' schema changes, in order; each is one migration.
pub const MIGRATIONS: &[&str] = &["CREATE TABLE model_presets (
    id           INTEGER PRIMARY KEY,
    model_sha256 TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('fast', 'balanced', 'high', 'ultra')),
    base         TEXT NOT NULL,
    steps        INTEGER NOT NULL,
    cfg_scale    REAL NOT NULL,
    sampler      TEXT NOT NULL,
    scheduler    TEXT NOT NULL,
    params       TEXT NOT NULL,
    origin       TEXT NOT NULL,
    edited       INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL,
    UNIQUE (model_sha256, level)
);
CREATE INDEX model_presets_base ON model_presets (base);"];

/// One stored row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPreset {
    pub model_sha256: String,
    pub preset: Preset,
    /// "base preset", or what CivitAI tuned.
    pub origin: String,
    /// Changed by `gen presets set` since it was populated.
    pub edited: bool,
    /// Unix seconds.
    pub updated_at: i64,
}

/// What `populate` did, counted in models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PopulateReport {
    /// Models that got at least one new (or, forced, rebuilt) row.
    pub created: usize,
    /// Models whose rows all existed.
    pub kept: usize,
    /// Models of unknown base, or not hashed yet.
    pub skipped: usize,
}

/// How `populate` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PopulateOptions {
    /// Rebuild rows that exist (user edits are lost).
    pub force: bool,
    /// Only models of this base.
    pub base: Option<Base>,
    /// Unix seconds to stamp rows with.
    pub now: i64,
}

/// Stores rows for every active checkpoint and diffusion model in
/// `entries` (each hash once), tuned by `stats` where it knows the model.
pub fn populate(
    conn: &Connection,
    table: &PresetTable,
    entries: &[CatalogEntry],
    stats: &dyn Fn(&CatalogEntry) -> Option<ExampleStats>,
    opts: PopulateOptions,
) -> Result<PopulateReport, PresetError> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let mut report = PopulateReport::default();
    let mut seen = std::collections::HashSet::new();
    for entry in entries
        .iter()
        .filter(|e| is_model(e) && opts.base.is_none_or(|b| e.base == b))
    {
        let Some(sha) = entry.sha256.as_deref().map(str::to_ascii_lowercase) else {
            report.skipped += 1;
            continue;
        };
        if !seen.insert(sha.clone()) {
            continue;
        }
        let Some(tuned) = tune(table, entry, stats(entry).as_ref()) else {
            report.skipped += 1;
            continue;
        };
        let mut wrote = 0;
        for preset in &tuned.presets {
            wrote += write_row(&tx, &sha, preset, &tuned.origin, opts.force, opts.now)?;
        }
        match wrote {
            0 => report.kept += 1,
            _ => report.created += 1,
        }
    }
    tx.commit()?;
    Ok(report)
}

fn is_model(e: &CatalogEntry) -> bool {
    e.active && matches!(e.kind, Kind::Checkpoint | Kind::DiffusionModel)
}

/// Inserts (or, with `replace`, overwrites) one row; returns rows written.
fn write_row(
    conn: &Connection,
    sha: &str,
    p: &Preset,
    origin: &str,
    replace: bool,
    now: i64,
) -> rusqlite::Result<usize> {
    let conflict = match replace {
        true => {
            "DO UPDATE SET base = excluded.base, steps = excluded.steps, cfg_scale = excluded.cfg_scale, \
                 sampler = excluded.sampler, scheduler = excluded.scheduler, params = excluded.params, \
                 origin = excluded.origin, edited = excluded.edited, updated_at = excluded.updated_at"
        }
        false => "DO NOTHING",
    };
    let sql = format!(
        "INSERT INTO model_presets (model_sha256, level, base, steps, cfg_scale, sampler, scheduler, params, origin, edited, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10)
         ON CONFLICT (model_sha256, level) {conflict}"
    );
    let params_json = serde_json::to_string(&p.model_specific_params).expect("params serialise");
    conn.execute(
        &sql,
        params![
            sha,
            p.level.as_str(),
            p.base.as_str(),
            p.steps,
            p.cfg_scale,
            p.sampler,
            p.scheduler,
            params_json,
            origin,
            now
        ],
    )
}

const SELECT: &str = "SELECT model_sha256, level, base, steps, cfg_scale, sampler, scheduler, params, origin, edited, updated_at
     FROM model_presets";
const ORDER: &str = "ORDER BY model_sha256, CASE level WHEN 'fast' THEN 0 WHEN 'balanced' THEN 1 WHEN 'high' THEN 2 ELSE 3 END";

fn read_row(row: &Row) -> rusqlite::Result<StoredPreset> {
    let text = |i: usize| row.get::<_, String>(i);
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let params: Params = serde_json::from_str(&text(7)?).map_err(|e| bad(7, e.to_string()))?;
    let preset = Preset {
        base: text(2)?.parse().map_err(|e: String| bad(2, e))?,
        level: text(1)?
            .parse()
            .map_err(|e: PresetError| bad(1, e.to_string()))?,
        steps: row.get(3)?,
        cfg_scale: row.get(4)?,
        sampler: text(5)?,
        scheduler: text(6)?,
        model_specific_params: params,
    };
    Ok(StoredPreset {
        model_sha256: text(0)?,
        preset,
        origin: text(8)?,
        edited: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

/// Every stored row, or only those of one model (by SHA-256), by model then
/// level.
pub fn list(
    conn: &Connection,
    model_sha256: Option<&str>,
) -> Result<Vec<StoredPreset>, PresetError> {
    let sha = model_sha256.map(str::to_ascii_lowercase);
    let sql = format!("{SELECT} WHERE ?1 IS NULL OR model_sha256 = ?1 {ORDER}");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([sha], read_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One model's row at one level, for resolution.
pub fn get(
    conn: &Connection,
    model_sha256: &str,
    level: Level,
) -> Result<Option<StoredPreset>, PresetError> {
    let sql = format!("{SELECT} WHERE model_sha256 = ?1 AND level = ?2");
    let row = conn
        .query_row(
            &sql,
            params![model_sha256.to_ascii_lowercase(), level.as_str()],
            read_row,
        )
        .optional()?;
    Ok(row)
}

/// Sets `KEY=VALUE`s on one model's level and returns the row. Keys are
/// those of [`KEYS`] (`cfg` for `cfg_scale`; `refiner.switch_at` and the
/// like for the refiner's fields); values are TOML (`7.5`, `true`,
/// `["a", "b"]`) or bare text; an empty value removes an optional key.
/// Setting `steps` re-splits a refiner unless refiner keys are set too. A
/// model with no row yet starts from its base preset.
pub fn set(
    conn: &Connection,
    table: &PresetTable,
    model: &CatalogEntry,
    level: Level,
    assignments: &[String],
    now: i64,
) -> Result<StoredPreset, PresetError> {
    let sha = model_key(model)?;
    let (current, origin) = match get(conn, &sha, level)? {
        Some(row) => (row.preset, row.origin),
        None => (
            table.get(model.base, level).clone(),
            "base preset".to_string(),
        ),
    };
    let preset = apply(&current, assignments)?;
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    write_row(&tx, &sha, &preset, &origin, true, now)?;
    tx.execute(
        "UPDATE model_presets SET edited = 1 WHERE model_sha256 = ?1 AND level = ?2",
        params![sha, level.as_str()],
    )?;
    tx.commit()?;
    Ok(get(conn, &sha, level)?.expect("the row was just written"))
}

/// Rebuilds one model's rows (one level, or all) by the population rule,
/// dropping edits; returns the rows written.
pub fn reset(
    conn: &Connection,
    table: &PresetTable,
    model: &CatalogEntry,
    level: Option<Level>,
    stats: Option<&ExampleStats>,
    now: i64,
) -> Result<usize, PresetError> {
    let sha = model_key(model)?;
    let tuned = tune(table, model, stats).ok_or_else(|| PresetError::UnknownBase {
        model: model.name.clone(),
    })?;
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let mut written = 0;
    for preset in tuned
        .presets
        .iter()
        .filter(|p| level.is_none_or(|l| p.level == l))
    {
        written += write_row(&tx, &sha, preset, &tuned.origin, true, now)?;
    }
    tx.commit()?;
    Ok(written)
}

/// The model's row key, refusing models that cannot have rows.
fn model_key(model: &CatalogEntry) -> Result<String, PresetError> {
    if model.base == Base::Unknown {
        return Err(PresetError::UnknownBase {
            model: model.name.clone(),
        });
    }
    model
        .sha256
        .as_deref()
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| PresetError::NotHashed {
            model: model.name.clone(),
        })
}

/// `current` with the assignments applied and validated. Each assignment
/// is type-checked as it is applied, so an error names its key.
fn apply(current: &Preset, assignments: &[String]) -> Result<Preset, PresetError> {
    let mut flat = current.to_flat();
    let mut refiner_set = false;
    for a in assignments {
        let (key, value) = a
            .split_once('=')
            .ok_or_else(|| PresetError::NotAnAssignment(a.clone()))?;
        let (key, value) = (canonical_key(key.trim())?, value.trim());
        refiner_set |= key.starts_with("refiner");
        let bad = |message: String| PresetError::BadValue {
            key: key.clone(),
            value: value.into(),
            message,
        };
        assign(&mut flat, &key, value).map_err(bad)?;
        Preset::from_flat(current.base, current.level, flat.clone()).map_err(bad)?;
    }
    let mut preset = Preset::from_flat(current.base, current.level, flat).expect("checked above");
    if !refiner_set && preset.steps != current.steps {
        preset.set_steps(preset.steps);
    }
    validate(&preset).map_err(|(key, message)| PresetError::Invalid {
        origin: "presets set".into(),
        key,
        message,
    })?;
    Ok(preset)
}

fn canonical_key(key: &str) -> Result<String, PresetError> {
    let key = if key == "cfg" { "cfg_scale" } else { key };
    let top = key.split('.').next().unwrap_or(key);
    let nested_ok = top == "refiner" || !key.contains('.');
    match KEYS.contains(&top) && nested_ok {
        true => Ok(key.to_string()),
        false => Err(PresetError::UnknownKey(key.to_string())),
    }
}

/// Puts one value at `key` (dotted for the refiner's fields), or removes it
/// when `value` is empty.
fn assign(flat: &mut Map<String, Value>, key: &str, value: &str) -> Result<(), String> {
    let (target, field) = match key.split_once('.') {
        Some((outer, inner)) => match flat.get_mut(outer) {
            Some(Value::Object(obj)) => (obj, inner),
            _ => {
                return Err(format!(
                    "this level has no {outer}; set it whole, e.g. {outer}={{ ... }}"
                ));
            }
        },
        None => (&mut *flat, key),
    };
    if value.is_empty() {
        target.remove(field);
    } else {
        target.insert(field.to_string(), parse_value(key, value));
    }
    Ok(())
}

/// A TOML value if the text is one, else the text itself; a list key takes
/// comma-separated text as a list.
fn parse_value(key: &str, value: &str) -> Value {
    if let Ok(v) = value.parse::<toml::Value>() {
        return serde_json::to_value(v).expect("TOML values are JSON values");
    }
    if key == "text_encoders" {
        return Value::Array(
            value
                .split(',')
                .map(|s| Value::String(s.trim().to_string()))
                .collect(),
        );
    }
    Value::String(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{GenError, Status};
    use crate::presets::required::tests::entry;

    /// The catalogue's table, as much of it as the presets touch, plus ours.
    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE entries (id INTEGER PRIMARY KEY, path TEXT UNIQUE, name TEXT, kind TEXT, base TEXT, sha256 TEXT);",
        )
        .unwrap();
        for m in MIGRATIONS {
            conn.execute_batch(m).unwrap();
        }
        conn
    }

    fn table() -> PresetTable {
        PresetTable::builtin().unwrap()
    }

    fn catalogue() -> Vec<CatalogEntry> {
        let mut lora = entry(4, "/m/loras/detail.safetensors", Kind::Lora, Base::Sdxl);
        lora.category = crate::catalog::Category::Loras;
        let mut gone = entry(
            5,
            "/m/checkpoints/gone.safetensors",
            Kind::Checkpoint,
            Base::Sdxl,
        );
        gone.active = false;
        let mut unhashed = entry(
            6,
            "/m/checkpoints/new.safetensors",
            Kind::Checkpoint,
            Base::Sdxl,
        );
        unhashed.sha256 = None;
        vec![
            entry(
                1,
                "/m/checkpoints/sd15.safetensors",
                Kind::Checkpoint,
                Base::Sd15,
            ),
            entry(
                2,
                "/m/checkpoints/pony.safetensors",
                Kind::Checkpoint,
                Base::Pony,
            ),
            entry(
                3,
                "/m/diffusion_models/mystery.safetensors",
                Kind::DiffusionModel,
                Base::Unknown,
            ),
            lora,
            gone,
            unhashed,
            // The same file twice (a copy elsewhere): one model.
            CatalogEntry {
                id: 7,
                path: "/n/checkpoints/sd15.safetensors".into(),
                ..entry(1, "/m/x.safetensors", Kind::Checkpoint, Base::Sd15)
            },
        ]
    }

    fn no_stats(_: &CatalogEntry) -> Option<ExampleStats> {
        None
    }

    fn opts(force: bool, base: Option<Base>) -> PopulateOptions {
        PopulateOptions {
            force,
            base,
            now: 1_700_000_000,
        }
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM model_presets", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn populate_twice_creates_nothing_the_second_time() {
        let conn = db();
        let cat = catalogue();
        let first = populate(&conn, &table(), &cat, &no_stats, opts(false, None)).unwrap();
        assert_eq!(
            first,
            PopulateReport {
                created: 2,
                kept: 0,
                skipped: 2
            }
        );
        assert_eq!(count(&conn), 8);
        let second = populate(&conn, &table(), &cat, &no_stats, opts(false, None)).unwrap();
        assert_eq!(
            second,
            PopulateReport {
                created: 0,
                kept: 2,
                skipped: 2
            }
        );
        assert_eq!(count(&conn), 8);
    }

    #[test]
    fn force_rebuilds_rows_and_drops_edits() {
        let conn = db();
        let cat = catalogue();
        populate(&conn, &table(), &cat, &no_stats, opts(false, None)).unwrap();
        set(
            &conn,
            &table(),
            &cat[0],
            Level::High,
            &["steps=44".into()],
            5,
        )
        .unwrap();
        let kept = populate(&conn, &table(), &cat, &no_stats, opts(false, None)).unwrap();
        assert_eq!(kept.kept, 2);
        assert_eq!(
            get(&conn, cat[0].sha256.as_deref().unwrap(), Level::High)
                .unwrap()
                .unwrap()
                .preset
                .steps,
            44
        );
        let stats = |e: &CatalogEntry| {
            (e.base == Base::Sd15).then(|| ExampleStats {
                count: 2,
                cfg_median: Some(6.0),
                ..Default::default()
            })
        };
        let forced = populate(&conn, &table(), &cat, &stats, opts(true, None)).unwrap();
        assert_eq!(
            forced,
            PopulateReport {
                created: 2,
                kept: 0,
                skipped: 2
            }
        );
        let row = get(&conn, cat[0].sha256.as_deref().unwrap(), Level::High)
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.preset.steps, row.preset.cfg_scale, row.edited),
            (30, 6.0, false)
        );
        assert_eq!(
            row.origin,
            "base preset tuned by CivitAI (2 example images: cfg)"
        );
        assert_eq!(count(&conn), 8);
    }

    #[test]
    fn base_filter_limits_population() {
        let conn = db();
        let report = populate(
            &conn,
            &table(),
            &catalogue(),
            &no_stats,
            opts(false, Some(Base::Pony)),
        )
        .unwrap();
        assert_eq!(
            report,
            PopulateReport {
                created: 1,
                kept: 0,
                skipped: 0
            }
        );
        let rows = list(&conn, None).unwrap();
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.preset.base == Base::Pony));
        let levels: Vec<Level> = rows.iter().map(|r| r.preset.level).collect();
        assert_eq!(levels, Level::ALL);
    }

    #[test]
    fn unique_model_and_level_is_enforced_by_the_schema() {
        let conn = db();
        let insert = "INSERT INTO model_presets (model_sha256, level, base, steps, cfg_scale, sampler, scheduler, params, origin, updated_at)
                      VALUES ('ab', 'fast', 'sdxl', 1, 1, 'euler', 'normal', '{}', 'x', 0)";
        conn.execute(insert, []).unwrap();
        assert!(conn.execute(insert, []).is_err());
        assert!(
            conn.execute(&insert.replace("'fast'", "'speed'"), [])
                .is_err(),
            "levels are stored canonical"
        );
    }

    #[test]
    fn rows_round_trip_and_list_filters_by_model() {
        let conn = db();
        let cat = catalogue();
        populate(&conn, &table(), &cat, &no_stats, opts(false, None)).unwrap();
        let sha = cat[1].sha256.clone().unwrap();
        let rows = list(&conn, Some(&sha.to_uppercase())).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[2].preset, *table().get(Base::Pony, Level::High));
        assert_eq!(
            (rows[2].origin.as_str(), rows[2].edited, rows[2].updated_at),
            ("base preset", false, 1_700_000_000)
        );
        assert_eq!(list(&conn, None).unwrap().len(), 8);
        assert!(get(&conn, "00", Level::Fast).unwrap().is_none());
    }

    #[test]
    fn set_validates_keys_types_and_ranges() {
        let conn = db();
        let cat = catalogue();
        let t = table();
        let row = set(
            &conn,
            &t,
            &cat[1],
            Level::Fast,
            &["steps=10".into(), "cfg=6.5".into(), "sampler=euler".into()],
            9,
        )
        .unwrap();
        assert_eq!(
            (
                row.preset.steps,
                row.preset.cfg_scale,
                row.preset.sampler.as_str()
            ),
            (10, 6.5, "euler")
        );
        assert!(row.edited);
        let row = set(
            &conn,
            &t,
            &cat[1],
            Level::Fast,
            &["clip_skip=".into(), "width=832".into()],
            9,
        )
        .unwrap();
        assert_eq!(
            (row.preset.model_specific_params.clip_skip, row.preset.steps),
            (None, 10)
        );
        assert_eq!(row.preset.model_specific_params.width, 832);

        let cases: [(&str, &str); 7] = [
            ("widht=512", "unknown preset key 'widht'"),
            (
                "steps=many",
                "steps=many: invalid type: string \"many\", expected u32",
            ),
            (
                "steps=7.5",
                "steps=7.5: invalid type: floating point `7.5`, expected u32",
            ),
            (
                "steps=500",
                "presets set: steps: 500 is out of range 1..=150",
            ),
            (
                "width=1020",
                "presets set: width: 1020 is not a multiple of 8",
            ),
            (
                "scheduler=warp",
                "presets set: scheduler: unknown name 'warp'",
            ),
            ("steps", "'steps' is not of the form KEY=VALUE"),
        ];
        for (assignment, message) in cases {
            let err = set(&conn, &t, &cat[1], Level::Fast, &[assignment.into()], 9).unwrap_err();
            assert!(err.to_string().starts_with(message), "{assignment}: {err}");
            assert_eq!(GenError::from(err).status, Status::Usage, "{assignment}");
        }
        let err = set(&conn, &t, &cat[1], Level::Fast, &["width=".into()], 9).unwrap_err();
        assert_eq!(err.to_string(), "width=: missing field `width`");
        // Nothing half-applied: the row is as the last good set left it.
        let row = get(&conn, cat[1].sha256.as_deref().unwrap(), Level::Fast)
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.preset.steps, row.preset.model_specific_params.width),
            (10, 832)
        );
    }

    #[test]
    fn set_reaches_the_refiner_and_lists() {
        let conn = db();
        let t = table();
        let sdxl = entry(
            8,
            "/m/checkpoints/sdxl.safetensors",
            Kind::Checkpoint,
            Base::Sdxl,
        );
        let row = set(&conn, &t, &sdxl, Level::Ultra, &["steps=50".into()], 1).unwrap();
        let r = row.preset.model_specific_params.refiner.clone().unwrap();
        assert_eq!((r.base_steps, r.refiner_steps), (40, 10));
        let row = set(
            &conn,
            &t,
            &sdxl,
            Level::Ultra,
            &[
                "refiner.switch_at=0.7".into(),
                "refiner.base_steps=35".into(),
                "refiner.refiner_steps=15".into(),
            ],
            1,
        )
        .unwrap();
        assert_eq!(
            row.preset.model_specific_params.refiner.unwrap().switch_at,
            0.7
        );
        let err = set(
            &conn,
            &t,
            &sdxl,
            Level::High,
            &["refiner.switch_at=0.7".into()],
            1,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("this level has no refiner"),
            "{err}"
        );
        let row = set(
            &conn,
            &t,
            &sdxl,
            Level::High,
            &["text_encoders=clip_l*, t5xxl*".into()],
            1,
        )
        .unwrap();
        assert_eq!(
            row.preset.model_specific_params.text_encoders,
            ["clip_l*", "t5xxl*"]
        );
        let row = set(
            &conn,
            &t,
            &sdxl,
            Level::High,
            &["text_encoders_in_checkpoint=false".into()],
            1,
        )
        .unwrap();
        assert_eq!(
            row.preset.model_specific_params.text_encoders_in_checkpoint,
            Some(false)
        );
    }

    #[test]
    fn set_and_reset_refuse_unknown_base_and_unhashed_models() {
        let conn = db();
        let cat = catalogue();
        let err = set(
            &conn,
            &table(),
            &cat[2],
            Level::Fast,
            &["steps=3".into()],
            1,
        )
        .unwrap_err();
        assert!(matches!(err, PresetError::UnknownBase { .. }), "{err}");
        let err = reset(&conn, &table(), &cat[5], None, None, 1).unwrap_err();
        assert!(matches!(err, PresetError::NotHashed { .. }), "{err}");
        assert_eq!(
            GenError::from(err).hint.as_deref(),
            Some("run `gen index` first")
        );
    }

    #[test]
    fn reset_restores_one_level_or_all() {
        let conn = db();
        let cat = catalogue();
        let t = table();
        let sha = cat[0].sha256.clone().unwrap();
        populate(&conn, &t, &cat, &no_stats, opts(false, None)).unwrap();
        set(&conn, &t, &cat[0], Level::Fast, &["steps=5".into()], 2).unwrap();
        set(&conn, &t, &cat[0], Level::High, &["steps=45".into()], 2).unwrap();
        assert_eq!(
            reset(&conn, &t, &cat[0], Some(Level::Fast), None, 3).unwrap(),
            1
        );
        let fast = get(&conn, &sha, Level::Fast).unwrap().unwrap();
        assert_eq!(
            (fast.preset.steps, fast.edited, fast.updated_at),
            (12, false, 3)
        );
        assert_eq!(
            get(&conn, &sha, Level::High).unwrap().unwrap().preset.steps,
            45
        );
        let stats = ExampleStats {
            count: 1,
            steps_median: Some(30),
            ..Default::default()
        };
        assert_eq!(reset(&conn, &t, &cat[0], None, Some(&stats), 4).unwrap(), 4);
        let high = get(&conn, &sha, Level::High).unwrap().unwrap();
        assert_eq!((high.preset.steps, high.edited), (45, false));
        assert_eq!(
            high.origin,
            "base preset tuned by CivitAI (1 example images: steps)"
        );
    }

    #[test]
    fn migrations_apply_through_rusqlite_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        let ms: Vec<rusqlite_migration::M> = MIGRATIONS
            .iter()
            .map(|m| rusqlite_migration::M::up(m))
            .collect();
        let migrations = rusqlite_migration::Migrations::new(ms);
        migrations.to_latest(&mut conn).unwrap();
        migrations.to_latest(&mut conn).unwrap();
        assert_eq!(count(&conn), 0);
    }
}
