//! When a password rotates, for static roles and for a connection's root password: every
//! `rotation_period`, or at the times of a cron `rotation_schedule` (UTC), optionally only
//! within `rotation_window` after each time (Vault's three fields and their rules). A
//! rotation that could not happen within its window waits for the next scheduled time.
//!
//! Rotations run from core's timer index (`secrethub_engine::TimerLog`): the engine sets a
//! timer at [`RotationPlan::next`] whenever a plan or a rotation changes, and the timer's
//! run checks the record again before rotating.

use std::time::Duration;

use secrethub_common::cron::CronSchedule;
use secrethub_common::serde_helpers::opt_duration;
use secrethub_common::{JsonMap, UnixTime};
use secrethub_database_plugin::DatabaseError;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Vault's shortest `rotation_period`.
pub(crate) const MIN_ROTATION_PERIOD: Duration = Duration::from_secs(5);
/// Vault's shortest `rotation_window`.
pub(crate) const MIN_ROTATION_WINDOW: Duration = Duration::from_secs(3600);

/// The request fields of a plan.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PlanInput {
    #[serde(default, deserialize_with = "opt_duration")]
    pub(crate) rotation_period: Option<Duration>,
    pub(crate) rotation_schedule: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub(crate) rotation_window: Option<Duration>,
}

/// A stored plan; flattened into its record. No period and no schedule: never rotated on
/// its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RotationPlan {
    #[serde(default)]
    pub(crate) rotation_period_secs: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) rotation_schedule: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) rotation_window_secs: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RotationPlan {
    /// Whether the plan rotates at all.
    pub(crate) fn is_set(&self) -> bool {
        self.rotation_period_secs > 0 || !self.rotation_schedule.is_empty()
    }

    /// Applies the given fields with Vault's rules: a period and a schedule exclude each
    /// other (giving one replaces the other), a window needs a schedule and is at least an
    /// hour, a schedule that never fires is refused.
    pub(crate) fn apply(&mut self, input: PlanInput) -> Result<(), DatabaseError> {
        let schedule = input.rotation_schedule.filter(|s| !s.trim().is_empty());
        if input.rotation_period.is_some_and(|p| !p.is_zero()) && schedule.is_some() {
            return Err(DatabaseError::invalid(
                "rotation_period and rotation_schedule are mutually exclusive",
            ));
        }
        if let Some(p) = input.rotation_period {
            if !p.is_zero() && p < MIN_ROTATION_PERIOD {
                return Err(DatabaseError::invalid(format!(
                    "rotation_period must be {} or more",
                    secrethub_common::format_duration(MIN_ROTATION_PERIOD)
                )));
            }
            self.rotation_period_secs = p.as_secs();
            if !p.is_zero() {
                self.rotation_schedule.clear();
                self.rotation_window_secs = 0;
            }
        }
        if let Some(s) = schedule {
            let parsed = CronSchedule::parse(&s)
                .map_err(|e| DatabaseError::invalid(format!("rotation_schedule: {e}")))?;
            if parsed.next_after(secrethub_common::now_unix()).is_none() {
                return Err(DatabaseError::invalid(
                    "rotation_schedule: the schedule never fires",
                ));
            }
            self.rotation_schedule = s.trim().to_string();
            self.rotation_period_secs = 0;
        }
        if let Some(w) = input.rotation_window {
            if !w.is_zero() && w < MIN_ROTATION_WINDOW {
                return Err(DatabaseError::invalid(format!(
                    "rotation_window must be {} or more",
                    secrethub_common::format_duration(MIN_ROTATION_WINDOW)
                )));
            }
            self.rotation_window_secs = w.as_secs();
        }
        if self.rotation_window_secs > 0 && self.rotation_schedule.is_empty() {
            return Err(DatabaseError::invalid(
                "rotation_window requires rotation_schedule",
            ));
        }
        Ok(())
    }

    /// When the next rotation is due, given the last one: at or before `now` means now.
    /// `None` when the plan never rotates.
    pub(crate) fn next(&self, last: UnixTime, now: UnixTime) -> Option<UnixTime> {
        if self.rotation_period_secs > 0 {
            let period = i64::try_from(self.rotation_period_secs).unwrap_or(i64::MAX);
            return Some(last.saturating_add(period));
        }
        let schedule = CronSchedule::parse(&self.rotation_schedule).ok()?;
        // With a window, only a scheduled time within the window before `now` is still
        // due; an older one was missed and the next one counts.
        let window = i64::try_from(self.rotation_window_secs).unwrap_or(i64::MAX);
        let from = if window > 0 {
            last.max(now.saturating_sub(window))
        } else {
            last
        };
        schedule.next_after(from)
    }

    /// Seconds until the next rotation (0 when due).
    pub(crate) fn ttl(&self, last: UnixTime, now: UnixTime) -> u64 {
        self.next(last, now)
            .map_or(0, |t| u64::try_from(t.saturating_sub(now)).unwrap_or(0))
    }

    /// The plan's fields as Vault reads them.
    pub(crate) fn insert_into(&self, data: &mut JsonMap) {
        if self.rotation_schedule.is_empty() {
            data.insert("rotation_period".into(), json!(self.rotation_period_secs));
        } else {
            data.insert("rotation_schedule".into(), json!(self.rotation_schedule));
            data.insert("rotation_window".into(), json!(self.rotation_window_secs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T09:30:00Z, a Monday.
    const NOW: i64 = 1_796_635_800;

    fn plan(input: PlanInput) -> Result<RotationPlan, String> {
        let mut p = RotationPlan::default();
        p.apply(input).map_err(|e| e.to_string())?;
        Ok(p)
    }

    fn schedule(s: &str, window: u64) -> RotationPlan {
        plan(PlanInput {
            rotation_schedule: Some(s.into()),
            rotation_window: Some(Duration::from_secs(window)),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_period_counts_from_the_last_rotation() {
        let p = plan(PlanInput {
            rotation_period: Some(Duration::from_secs(60)),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.next(NOW, NOW), Some(NOW + 60));
        assert_eq!(p.ttl(NOW - 100, NOW), 0);
    }

    #[test]
    fn a_schedule_without_window_catches_up_once() {
        let p = schedule("0 * * * *", 0);
        // Last rotated 09:00; the 10:00 rotation is next.
        assert_eq!(p.next(NOW - 1800, NOW), Some(NOW + 1800));
        // Last rotated three hours ago: the missed 07:00 rotation is due now.
        assert_eq!(p.next(NOW - 3 * 3600, NOW), Some(NOW - 2 * 3600 - 1800));
    }

    #[test]
    fn a_missed_window_waits_for_the_next_time() {
        // Daily at midnight, a two-hour window; last rotated yesterday at midnight.
        let p = schedule("0 0 * * *", 7200);
        let midnight = NOW - 9 * 3600 - 1800;
        assert_eq!(p.next(midnight - 86_400, NOW), Some(midnight + 86_400));
        // At 01:00 the window is still open: due.
        assert_eq!(p.next(midnight - 86_400, midnight + 3600), Some(midnight));
    }

    #[test]
    fn vaults_rules_for_the_three_fields() {
        let refused = [
            (
                PlanInput {
                    rotation_period: Some(Duration::from_secs(60)),
                    rotation_schedule: Some("* * * * *".into()),
                    ..Default::default()
                },
                "mutually exclusive",
            ),
            (
                PlanInput {
                    rotation_period: Some(Duration::from_secs(2)),
                    ..Default::default()
                },
                "rotation_period must be 5s or more",
            ),
            (
                PlanInput {
                    rotation_schedule: Some("* * * *".into()),
                    ..Default::default()
                },
                "rotation_schedule: a schedule has five fields",
            ),
            (
                PlanInput {
                    rotation_schedule: Some("0 0 31 2 *".into()),
                    ..Default::default()
                },
                "never fires",
            ),
            (
                PlanInput {
                    rotation_schedule: Some("0 0 * * *".into()),
                    rotation_window: Some(Duration::from_secs(60)),
                    ..Default::default()
                },
                "rotation_window must be 1h0m0s or more",
            ),
            (
                PlanInput {
                    rotation_window: Some(Duration::from_secs(7200)),
                    ..Default::default()
                },
                "rotation_window requires rotation_schedule",
            ),
        ];
        for (input, says) in refused {
            let e = plan(input).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
        // A schedule replaces a period and the other way round.
        let mut p = schedule("0 0 * * *", 7200);
        p.apply(PlanInput {
            rotation_period: Some(Duration::from_secs(60)),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.rotation_period_secs, 60);
        assert!(p.rotation_schedule.is_empty());
        assert_eq!(p.rotation_window_secs, 0);
    }
}
