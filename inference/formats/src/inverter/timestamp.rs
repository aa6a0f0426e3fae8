//! Timestamps as sites write them: several strftime patterns or RFC 3339, in a fixed offset or an IANA zone,
//! parsed into UTC. Rows of one instant usually repeat the same text, so the last result is cached.

use chrono::format::{parse, Item, Parsed, StrftimeItems};
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use prognos_core::pipeline::{TimestampSpec, Zone};

use super::FormatError;

enum Pattern {
    Rfc3339,
    Strftime(Vec<Item<'static>>),
}

/// Parses one pipeline's timestamps.
pub struct TimeParser {
    patterns: Vec<Pattern>,
    zone: Zone,
    last: Option<(Vec<u8>, DateTime<Utc>)>,
}

impl TimeParser {
    /// From the pipeline's timestamp table.
    pub fn new(spec: &TimestampSpec) -> Result<Self, FormatError> {
        let zone = Zone::parse(&spec.timezone).map_err(FormatError::Spec)?;
        let mut patterns = Vec::with_capacity(spec.formats.len());
        for f in &spec.formats {
            if f == "rfc3339" {
                patterns.push(Pattern::Rfc3339);
            } else {
                let items = StrftimeItems::new(f)
                    .parse_to_owned()
                    .map_err(|e| FormatError::Spec(format!("timestamp format {f:?}: {e}")))?;
                patterns.push(Pattern::Strftime(items));
            }
        }
        Ok(Self { patterns, zone, last: None })
    }

    /// The UTC instant of `text`, or why not.
    pub fn parse(&mut self, text: &str) -> Result<DateTime<Utc>, String> {
        if let Some((last, at)) = &self.last {
            if last.as_slice() == text.as_bytes() {
                return Ok(*at);
            }
        }
        let at = self.parse_uncached(text.trim())?;
        match &mut self.last {
            Some((buf, t)) => {
                buf.clear();
                buf.extend_from_slice(text.as_bytes());
                *t = at;
            }
            None => self.last = Some((text.as_bytes().to_vec(), at)),
        }
        Ok(at)
    }

    fn parse_uncached(&self, text: &str) -> Result<DateTime<Utc>, String> {
        if text.is_empty() {
            return Err("empty timestamp".into());
        }
        for p in &self.patterns {
            match p {
                Pattern::Rfc3339 => {
                    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
                        return Ok(t.with_timezone(&Utc));
                    }
                }
                Pattern::Strftime(items) => {
                    let mut parsed = Parsed::new();
                    if parse(&mut parsed, text, items.iter()).is_err() {
                        continue;
                    }
                    if let Ok(t) = parsed.to_datetime() {
                        return Ok(t.with_timezone(&Utc));
                    }
                    if let Ok(naive) = parsed.to_naive_datetime_with_offset(0) {
                        return self.localize(naive, text);
                    }
                }
            }
        }
        Err(format!("timestamp {text:?} matches none of the pipeline's formats"))
    }

    fn localize(&self, naive: NaiveDateTime, text: &str) -> Result<DateTime<Utc>, String> {
        let local = match self.zone {
            Zone::Fixed(off) => off.from_local_datetime(&naive).map(|t| t.with_timezone(&Utc)),
            Zone::Named(tz) => tz.from_local_datetime(&naive).map(|t| t.with_timezone(&Utc)),
        };
        match local {
            LocalResult::Single(t) => Ok(t),
            LocalResult::Ambiguous(..) => Err(format!("timestamp {text:?} is ambiguous in the pipeline's zone (DST)")),
            LocalResult::None => Err(format!("timestamp {text:?} does not exist in the pipeline's zone (DST gap)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(formats: &[&str], tz: &str) -> TimeParser {
        TimeParser::new(&TimestampSpec {
            column: "t".into(),
            formats: formats.iter().map(|s| s.to_string()).collect(),
            timezone: tz.into(),
        })
        .unwrap()
    }

    #[test]
    fn both_kaggle_forms_in_india_time() {
        let mut p = parser(&["%d-%m-%Y %H:%M", "%Y-%m-%d %H:%M:%S"], "+05:30");
        let a = p.parse("15-05-2020 06:00").unwrap();
        let b = p.parse("2020-05-15 06:00:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2020-05-15T00:30:00+00:00");
        assert_eq!(p.parse("2020-05-15 06:00:00").unwrap(), a, "cached");
        assert!(p.parse("2020-13-15 06:00:00").is_err());
        assert!(p.parse("").is_err());
    }

    #[test]
    fn unpadded_us_dates_rfc3339_and_named_zones() {
        let mut p = parser(&["%m/%d/%Y %H:%M", "rfc3339"], "America/Denver");
        assert_eq!(p.parse("1/2/2022 0:15").unwrap().to_rfc3339(), "2022-01-02T07:15:00+00:00");
        assert_eq!(p.parse("2022-01-02T00:15:00Z").unwrap().to_rfc3339(), "2022-01-02T00:15:00+00:00");
        assert!(p.parse("3/13/2022 2:30").unwrap_err().contains("DST"));
    }
}
