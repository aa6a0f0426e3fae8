//! Listings with filters and keyset paging: assets with their latest prediction, and predictions.
//!
//! Keyset paging: each page ends with a cursor (the last row's sort key); the next page asks for rows after it.
//! Unlike `OFFSET`, a page costs the same however deep it is and rows inserted meanwhile neither repeat nor vanish.

use chrono::{DateTime, Utc};

use crate::alerts::rows::{bind_args, Arg};
use crate::connect::on_pool;
use crate::read::{check_limit, predictions, PredictionRow, PREDICTION_COLUMNS};
use crate::time::Ts;
use crate::{AssetKind, AssetRecord, PredictionRecord, Store, StoreError};

/// Which assets [`Store::list_assets`] returns, in id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetFilter {
    /// Only wheels or only inverters.
    pub kind: Option<AssetKind>,
    /// Only assets last seen at this site.
    pub site: Option<String>,
    /// Keyset cursor: only assets whose id sorts after this one (the last id of the previous page).
    pub after: Option<String>,
    /// At most this many (required: 1 or more).
    pub limit: i64,
}

/// An asset with its latest prediction (by `observed_at`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSummary {
    /// The asset.
    pub asset: AssetRecord,
    /// Its most recently observed prediction, if any.
    pub latest: Option<PredictionRecord>,
}

/// Where a page of predictions ended: the last row's `observed_at` and id. Text form `<rfc3339>_<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictionCursor {
    /// The last row's observation time.
    pub observed_at: DateTime<Utc>,
    /// The last row's id.
    pub id: i64,
}

impl PredictionCursor {
    /// The cursor after `record`.
    pub fn after(record: &PredictionRecord) -> PredictionCursor {
        PredictionCursor { observed_at: record.observed_at, id: record.id }
    }

    /// Parses the text form written by `Display`.
    pub fn parse(text: &str) -> Result<PredictionCursor, StoreError> {
        let bad = || StoreError::InvalidInput(format!("cursor {text:?} is not one this API returned"));
        let (at, id) = text.rsplit_once('_').ok_or_else(bad)?;
        let observed_at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc);
        let id = id.parse().map_err(|_| bad())?;
        Ok(PredictionCursor { observed_at, id })
    }
}

impl std::fmt::Display for PredictionCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.observed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), self.id)
    }
}

/// Which predictions [`Store::list_predictions`] returns, newest observation first (`observed_at`, then id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PredictionFilter {
    /// Only this asset.
    pub asset_id: Option<String>,
    /// Only assets whose current site is this one.
    pub site: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Only this model version.
    pub model_version: Option<String>,
    /// Only observations at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only observations before this time.
    pub to: Option<DateTime<Utc>>,
    /// Keyset cursor: only rows after (older than) this one.
    pub after: Option<PredictionCursor>,
    /// At most this many (required: 1 or more).
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    a_id: String,
    a_kind: String,
    a_site: String,
    a_first_seen: Ts,
    a_last_seen: Ts,
    id: Option<i64>,
    asset_id: Option<String>,
    capture_id: Option<i64>,
    model: Option<String>,
    model_version: Option<String>,
    health_score: Option<f64>,
    label: Option<String>,
    probabilities: Option<String>,
    scored_at: Option<Ts>,
    observed_at: Option<Ts>,
    explanation: Option<String>,
}

/// `WHERE` clauses with `$N` placeholders numbered as arguments are added.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    /// Adds `template`, whose `?1`, `?2`... refer to `args` in order.
    fn push(&mut self, template: &str, args: Vec<Arg>) {
        let mut clause = template.to_string();
        for (i, arg) in args.into_iter().enumerate() {
            self.args.push(arg);
            clause = clause.replace(&format!("?{}", i + 1), &format!("${}", self.args.len()));
        }
        self.clauses.push(clause);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn limit(&mut self, limit: i64) -> String {
        self.args.push(Arg::Int(limit));
        format!(" LIMIT ${}", self.args.len())
    }
}

fn positive_limit(limit: i64) -> Result<(), StoreError> {
    check_limit(limit)?;
    if limit == 0 {
        return Err(StoreError::InvalidInput("limit must be at least 1".into()));
    }
    Ok(())
}

impl Store {
    /// A page of assets in id order, each with its latest prediction; pass the last id as `after` for the next.
    pub async fn list_assets(&self, filter: &AssetFilter) -> Result<Vec<AssetSummary>, StoreError> {
        positive_limit(filter.limit)?;
        let mut w = Where::default();
        if let Some(kind) = filter.kind {
            w.push("a.kind = ?1", vec![Arg::Text(kind.as_str().into())]);
        }
        if let Some(site) = &filter.site {
            w.push("a.site = ?1", vec![Arg::Text(site.clone())]);
        }
        if let Some(after) = &filter.after {
            w.push("a.id > ?1", vec![Arg::Text(after.clone())]);
        }
        let where_sql = w.sql();
        let limit = w.limit(filter.limit);
        let sql = format!(
            "SELECT a.id AS a_id, a.kind AS a_kind, a.site AS a_site, a.first_seen AS a_first_seen, \
             a.last_seen AS a_last_seen, p.id, p.asset_id, p.capture_id, p.model, p.model_version, p.health_score, \
             p.label, p.probabilities, p.scored_at, p.observed_at, p.explanation \
             FROM assets a LEFT JOIN predictions p ON p.id = (SELECT q.id FROM predictions q \
             WHERE q.asset_id = a.id ORDER BY q.observed_at DESC, q.id DESC LIMIT 1){where_sql} \
             ORDER BY a.id{limit}"
        );
        let rows: Vec<SummaryRow> =
            on_pool!(self, pool => bind_args!(sqlx::query_as(&sql), &w.args).fetch_all(pool).await?);
        rows.into_iter().map(summary).collect()
    }

    /// A page of predictions, newest observation first; pass [`PredictionCursor::after`] of the last row as
    /// `after` for the next page.
    pub async fn list_predictions(&self, filter: &PredictionFilter) -> Result<Vec<PredictionRecord>, StoreError> {
        positive_limit(filter.limit)?;
        let mut w = Where::default();
        for (column, value) in
            [("asset_id", &filter.asset_id), ("model", &filter.model), ("model_version", &filter.model_version)]
        {
            if let Some(value) = value {
                w.push(&format!("{column} = ?1"), vec![Arg::Text(value.clone())]);
            }
        }
        if let Some(site) = &filter.site {
            w.push("asset_id IN (SELECT id FROM assets WHERE site = ?1)", vec![Arg::Text(site.clone())]);
        }
        if let Some(from) = filter.from {
            w.push("observed_at >= ?1", vec![Arg::Ts(Ts::new(from))]);
        }
        if let Some(to) = filter.to {
            w.push("observed_at < ?1", vec![Arg::Ts(Ts::new(to))]);
        }
        if let Some(c) = filter.after {
            w.push(
                "(observed_at < ?1 OR (observed_at = ?2 AND id < ?3))",
                vec![Arg::Ts(Ts::new(c.observed_at)), Arg::Ts(Ts::new(c.observed_at)), Arg::Int(c.id)],
            );
        }
        let where_sql = w.sql();
        let limit = w.limit(filter.limit);
        let sql = format!(
            "SELECT {PREDICTION_COLUMNS} FROM predictions{where_sql} ORDER BY observed_at DESC, id DESC{limit}"
        );
        let rows: Vec<PredictionRow> =
            on_pool!(self, pool => bind_args!(sqlx::query_as(&sql), &w.args).fetch_all(pool).await?);
        predictions(rows)
    }
}

fn summary(r: SummaryRow) -> Result<AssetSummary, StoreError> {
    let kind = AssetKind::parse(&r.a_kind)
        .ok_or_else(|| StoreError::Corrupt { what: "assets.kind", detail: format!("unknown kind {:?}", r.a_kind) })?;
    let asset =
        AssetRecord { id: r.a_id, kind, site: r.a_site, first_seen: r.a_first_seen.0, last_seen: r.a_last_seen.0 };
    let latest = match (r.id, r.asset_id, r.model, r.model_version, r.health_score, r.label, r.probabilities) {
        (Some(id), Some(asset_id), Some(model), Some(model_version), Some(health_score), Some(label), Some(probs)) => {
            let (Some(scored_at), Some(observed_at)) = (r.scored_at, r.observed_at) else {
                return Err(StoreError::Corrupt { what: "predictions", detail: format!("row {id} without times") });
            };
            Some(PredictionRecord {
                id,
                asset_id,
                capture_id: r.capture_id,
                model,
                model_version,
                health_score,
                label,
                probabilities: crate::json::decode_pairs("predictions.probabilities", &probs)?,
                scored_at: scored_at.0,
                observed_at: observed_at.0,
                explanation: crate::read::decode_explanation(r.explanation.as_deref())?,
            })
        }
        _ => None,
    };
    Ok(AssetSummary { asset, latest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let c = PredictionCursor { observed_at: Utc.with_ymd_and_hms(2020, 3, 1, 12, 0, 0).unwrap(), id: 42 };
        assert_eq!(c.to_string(), "2020-03-01T12:00:00.000000Z_42");
        assert_eq!(PredictionCursor::parse(&c.to_string()).unwrap(), c);
        assert!(PredictionCursor::parse("42").is_err());
        assert!(PredictionCursor::parse("yesterday_1").is_err());
        assert!(PredictionCursor::parse("2020-03-01T12:00:00Z_x").is_err());
    }
}
