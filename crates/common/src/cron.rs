//! Standard five-field cron schedules, as Vault's `rotation_schedule` takes them (the Go
//! `robfig/cron` "standard" parser): `minute hour day-of-month month day-of-week`, each a
//! `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; months
//! and weekdays also by name (`JAN`, `SAT`), `?` as `*` in the day fields, and the
//! descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
//! `@hourly`. Times are UTC.
//!
//! As in cron, when both day fields are restricted a day matches either of them; when one
//! is `*` the other decides.

use std::fmt;

/// The longest schedule text accepted.
const MAX_LEN: usize = 256;
/// How far ahead [`CronSchedule::next_after`] looks: past every leap-year gap.
const HORIZON_DAYS: i64 = 366 * 9;

/// Why a schedule was refused; names the field, quotes at most the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError(String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CronError {}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_star: bool,
    weekdays_star: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const WEEKDAY: Field = Field {
    name: "day of week",
    min: 0,
    max: 6,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl Field {
    fn value(&self, token: &str) -> Result<u32, CronError> {
        let upper = token.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.min + i as u32);
        }
        let v: u32 = token.parse().map_err(|_| {
            CronError(format!(
                "{}: {:?} is not a number",
                self.name,
                shorten(token)
            ))
        })?;
        if v < self.min || v > self.max {
            return Err(CronError(format!(
                "{}: {v} is outside {}-{}",
                self.name, self.min, self.max
            )));
        }
        Ok(v)
    }

    /// The bit set of a field, and whether it was a bare `*` (or `?`).
    fn parse(&self, text: &str) -> Result<(u64, bool), CronError> {
        if text == "*" || text == "?" {
            return Ok((self.range_bits(self.min, self.max, 1), true));
        }
        let mut bits = 0u64;
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        CronError(format!("{}: bad step {:?}", self.name, shorten(s)))
                    })?;
                    (r, step)
                }
                None => (part, 1),
            };
            let (lo, hi) = if range == "*" || range == "?" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                (self.value(a)?, self.value(b)?)
            } else {
                let v = self.value(range)?;
                // `5/15` means 5, 20, 35, 50, as in robfig/cron.
                (v, if step > 1 { self.max } else { v })
            };
            if lo > hi {
                return Err(CronError(format!(
                    "{}: range {lo}-{hi} runs backwards",
                    self.name
                )));
            }
            bits |= self.range_bits(lo, hi, step);
        }
        Ok((bits, false))
    }

    fn range_bits(&self, lo: u32, hi: u32, step: u32) -> u64 {
        (lo..=hi).step_by(step as usize).fold(0, |b, v| b | 1 << v)
    }
}

fn shorten(token: &str) -> String {
    token.chars().take(16).collect()
}

fn has(bits: u64, v: i64) -> bool {
    (0..64).contains(&v) && bits & (1 << v) != 0
}

impl CronSchedule {
    /// Parses a schedule (see the module docs).
    pub fn parse(text: &str) -> Result<CronSchedule, CronError> {
        if text.len() > MAX_LEN {
            return Err(CronError(format!(
                "a schedule is at most {MAX_LEN} characters"
            )));
        }
        let text = text.trim();
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ if text.starts_with('@') => {
                return Err(CronError(format!(
                    "unknown descriptor {:?}; use five fields or @yearly, @monthly, @weekly, \
                     @daily, @hourly",
                    shorten(text)
                )))
            }
            _ => text,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(CronError(format!(
                "a schedule has five fields (minute hour day-of-month month day-of-week), \
                 not {}",
                fields.len()
            )));
        };
        let (minutes, _) = MINUTE.parse(minute)?;
        let (hours, _) = HOUR.parse(hour)?;
        let (days, days_star) = DAY.parse(day)?;
        let (months, _) = MONTH.parse(month)?;
        let (weekdays, weekdays_star) = WEEKDAY.parse(weekday)?;
        Ok(CronSchedule {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_star,
            weekdays_star,
        })
    }

    fn day_matches(&self, day_of_month: i64, weekday: i64) -> bool {
        let d = has(self.days, day_of_month);
        let w = has(self.weekdays, weekday);
        if self.days_star || self.weekdays_star {
            d && w
        } else {
            d || w
        }
    }

    /// The first time the schedule fires strictly after `unix` (seconds, UTC), on a whole
    /// minute; `None` when it never fires (`0 0 30 2 *`).
    pub fn next_after(&self, unix: i64) -> Option<i64> {
        let start = unix.div_euclid(60).checked_add(1)?.checked_mul(60)?;
        let first_day = start.div_euclid(86_400);
        let mut minute_of_day = start.rem_euclid(86_400) / 60;
        for day in first_day..first_day.checked_add(HORIZON_DAYS)? {
            let (_, month, dom) = civil_from_days(day);
            // 1970-01-01 was a Thursday (4).
            let weekday = (day + 4).rem_euclid(7);
            if has(self.months, month) && self.day_matches(dom, weekday) {
                for m in minute_of_day..1440 {
                    if has(self.hours, m / 60) && has(self.minutes, m % 60) {
                        return day.checked_mul(86_400)?.checked_add(m * 60);
                    }
                }
            }
            minute_of_day = 0;
        }
        None
    }
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T09:30:00Z, a Monday.
    const MON_0930: i64 = 1_796_635_800;

    fn next(s: &str, t: i64) -> i64 {
        CronSchedule::parse(s).unwrap().next_after(t).unwrap()
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(MON_0930 / 86_400), (2026, 12, 7));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn vaults_example_is_saturday_midnight() {
        // Sat 2026-12-12T00:00:00Z.
        assert_eq!(next("0 0 * * SAT", MON_0930), 1_797_033_600);
        assert_eq!(next("0 0 * * sat", MON_0930), 1_797_033_600);
        assert_eq!(next("@weekly", MON_0930), 1_797_033_600 + 86_400);
    }

    #[test]
    fn strictly_after_and_on_whole_minutes() {
        assert_eq!(next("* * * * *", MON_0930), MON_0930 + 60);
        assert_eq!(next("* * * * *", MON_0930 + 59), MON_0930 + 60);
        assert_eq!(next("*/15 * * * *", MON_0930), MON_0930 + 15 * 60);
        assert_eq!(next("5/20 * * * *", MON_0930), MON_0930 + 15 * 60);
        assert_eq!(next("0 10-12 * * *", MON_0930), MON_0930 + 30 * 60);
        assert_eq!(next("@hourly", MON_0930), MON_0930 + 30 * 60);
    }

    #[test]
    fn rolls_over_days_months_and_years() {
        // 2027-01-01T00:00:00Z.
        assert_eq!(next("@yearly", MON_0930), 1_798_761_600);
        // Next Feb 29 is 2028-02-29.
        assert_eq!(next("0 0 29 2 *", MON_0930), 1_835_395_200);
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 8th (Tuesday) comes before the next Sunday (the 13th).
        assert_eq!(
            next("0 0 8 * SUN", MON_0930),
            MON_0930 - 9 * 3600 - 1800 + 86_400
        );
        // With `*` in day of month, only Sundays.
        assert_eq!(
            next("0 0 * * SUN", MON_0930),
            MON_0930 - 9 * 3600 - 1800 + 6 * 86_400
        );
    }

    #[test]
    fn impossible_dates_never_fire() {
        let s = CronSchedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(s.next_after(MON_0930), None);
    }

    #[test]
    fn bad_schedules_are_refused_by_field() {
        for (text, says) in [
            ("0 0 * *", "five fields"),
            ("60 * * * *", "minute: 60 is outside 0-59"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * * 7", "day of week"),
            ("* * * * FUNDAY", "not a number"),
            ("*/0 * * * *", "bad step"),
            ("5-1 * * * *", "backwards"),
            ("@every 1h", "unknown descriptor"),
        ] {
            let e = CronSchedule::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert!(CronSchedule::parse(&"* ".repeat(200)).is_err());
    }
}
