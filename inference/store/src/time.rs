//! Timestamps that sort and compare the same way on both backends.
//!
//! PostgreSQL stores [`Ts`] as `TIMESTAMPTZ`. SQLite has no time type, so there it is RFC 3339 text in UTC with
//! exactly six fractional digits and a `Z` (`2024-05-01T12:00:00.000000Z`, always 27 characters): fixed width
//! makes text order equal time order, so `ORDER BY` and `WHERE at >= $1` are correct on both engines with the
//! same SQL. Both keep microseconds (PostgreSQL's resolution); finer digits are truncated on the way in.

use chrono::{DateTime, Datelike, SecondsFormat, SubsecRound, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// A UTC timestamp bound to and read from either backend (see the module docs for the storage format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts(pub DateTime<Utc>);

impl Ts {
    /// Truncates to the microsecond, the resolution both backends keep.
    pub fn new(at: DateTime<Utc>) -> Ts {
        Ts(at.trunc_subsecs(6))
    }

    /// The SQLite text form; only years 0000 to 9999 have a fixed-width form.
    pub(crate) fn to_sqlite_text(self) -> Result<String, BoxDynError> {
        let year = self.0.year();
        if !(0..=9999).contains(&year) {
            return Err(format!("timestamp {} is outside the years 0000-9999", self.0).into());
        }
        Ok(self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

/// Truncates `at` to the microsecond: what a round trip through the store gives back.
pub fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    Ts::new(at).0
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        Ts::new(self.0).to_sqlite_text().and_then(|text| <String as Encode<'q, Sqlite>>::encode(text, buf))
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
        let at = DateTime::parse_from_rfc3339(text).map_err(|e| format!("timestamp {text:?}: {e}"))?;
        Ok(Ts(at.with_timezone(&Utc)))
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&Ts::new(self.0).0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Postgres>>::decode(value).map(Ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_text_is_fixed_width_and_sorts_as_time() {
        let times = [
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::microseconds(1),
            Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::milliseconds(500),
            Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 1).unwrap(),
        ];
        let texts: Vec<String> = times.iter().map(|t| Ts::new(*t).to_sqlite_text().unwrap()).collect();
        assert!(texts.iter().all(|t| t.len() == 27 && t.ends_with('Z')), "{texts:?}");
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(sorted, texts);
        assert_eq!(texts[1], "2024-05-01T12:00:00.000000Z");
    }

    #[test]
    fn truncates_below_the_microsecond_and_rejects_wide_years() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::nanoseconds(1_999);
        assert_eq!(stored(at), Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::microseconds(1));
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert!(Ts::new(far).to_sqlite_text().is_err());
    }
}
