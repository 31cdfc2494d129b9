//! What a host supplies per request: the time and some randomness. Keeping both outside
//! the API keeps it a pure function (and its tests deterministic).

/// Per-request inputs from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestContext {
    /// Wall-clock time as nanoseconds since the Unix epoch (UTC).
    pub unix_nanos: u128,
    /// 16 random bytes, used for a fresh request id when the client sent no usable one.
    pub random: [u8; 16],
}

impl RequestContext {
    /// The context the host put in `request`'s extensions; the default (time zero, zero
    /// randomness) for a request without one.
    pub fn of<B>(request: &http::Request<B>) -> RequestContext {
        request
            .extensions()
            .get::<RequestContext>()
            .copied()
            .unwrap_or_default()
    }

    /// A version-4 UUID built from `random`.
    pub fn fresh_request_id(&self) -> String {
        uuid::Builder::from_random_bytes(self.random)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// RFC 3339 UTC with nanoseconds, trailing zeros trimmed (Go's `RFC3339Nano`).
    pub fn timestamp(&self) -> String {
        let secs = (self.unix_nanos / 1_000_000_000) as i64;
        let nanos = (self.unix_nanos % 1_000_000_000) as u32;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |nanos| {
            RequestContext {
                unix_nanos: nanos,
                random: [0; 16],
            }
            .timestamp()
        };
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            at(1_795_869_649_124_726_634),
            "2026-11-28T12:40:49.124726634Z"
        );
        assert_eq!(at(951_782_400_500_000_000), "2000-02-29T00:00:00.5Z");
    }

    #[test]
    fn request_ids_are_v4_uuids() {
        let id = RequestContext {
            unix_nanos: 0,
            random: [7; 16],
        }
        .fresh_request_id();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
