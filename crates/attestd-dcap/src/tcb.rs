//! TCB statuses as Intel names them, the set a verifier accepts, and the convergence rules of
//! Intel's quote verification library (platform status combined with QE and TDX-module status).

use std::fmt;

/// A TCB status of Intel's TCB info / enclave identity (`tcbStatus`), or the combined status of a
/// quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcbStatus {
    /// The platform is patched to the latest TCB.
    UpToDate,
    /// The TCB is current but the enclave must use software mitigations (see the advisories).
    SWHardeningNeeded,
    /// The TCB is current but the platform configuration needs a change (see the advisories).
    ConfigurationNeeded,
    /// Both a configuration change and software mitigations are needed.
    ConfigurationAndSWHardeningNeeded,
    /// The TCB is older than the latest level.
    OutOfDate,
    /// The TCB is older than the latest level and the configuration needs a change.
    OutOfDateConfigurationNeeded,
    /// The TCB level is revoked: never trustworthy.
    Revoked,
}

impl TcbStatus {
    /// Every status, mildest first.
    pub const ALL: [TcbStatus; 7] = [
        TcbStatus::UpToDate,
        TcbStatus::SWHardeningNeeded,
        TcbStatus::ConfigurationNeeded,
        TcbStatus::ConfigurationAndSWHardeningNeeded,
        TcbStatus::OutOfDate,
        TcbStatus::OutOfDateConfigurationNeeded,
        TcbStatus::Revoked,
    ];

    /// The status as Intel spells it, e.g. `SWHardeningNeeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            TcbStatus::UpToDate => "UpToDate",
            TcbStatus::SWHardeningNeeded => "SWHardeningNeeded",
            TcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            TcbStatus::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            TcbStatus::OutOfDate => "OutOfDate",
            TcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            TcbStatus::Revoked => "Revoked",
        }
    }

    /// Parses Intel's spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<TcbStatus> {
        TcbStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The combined statuses a verifier accepts. `Revoked` can never be accepted: it is always the
/// error `TcbRevoked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AcceptedStatuses(u8);

impl Default for AcceptedStatuses {
    /// `UpToDate` and `SWHardeningNeeded`.
    fn default() -> Self {
        AcceptedStatuses::only(&[TcbStatus::UpToDate, TcbStatus::SWHardeningNeeded])
    }
}

impl AcceptedStatuses {
    /// Exactly `statuses` (a `Revoked` among them is ignored).
    pub fn only(statuses: &[TcbStatus]) -> Self {
        statuses.iter().fold(AcceptedStatuses(0), |set, s| set.with(*s))
    }

    /// Every status except `Revoked`: the verdict is left to the caller's policy.
    pub fn all_but_revoked() -> Self {
        AcceptedStatuses::only(&TcbStatus::ALL)
    }

    /// This set plus `status` (unchanged for `Revoked`).
    #[must_use]
    pub fn with(self, status: TcbStatus) -> Self {
        if status == TcbStatus::Revoked {
            self
        } else {
            AcceptedStatuses(self.0 | status.bit())
        }
    }

    /// Whether `status` is in the set.
    pub fn contains(self, status: TcbStatus) -> bool {
        self.0 & status.bit() != 0
    }
}

/// Combines a platform TCB status with the status of another component (the QE, or the TDX
/// module), as Intel's QVL does: an out-of-date component makes an otherwise current platform
/// `OutOfDate` (or `OutOfDateConfigurationNeeded` if a configuration is needed), and a revoked one
/// makes it `Revoked`.
pub fn converge(platform: TcbStatus, component: TcbStatus) -> TcbStatus {
    use TcbStatus::*;
    match component {
        Revoked => Revoked,
        UpToDate => platform,
        // Intel's enclave and module identities only know UpToDate / OutOfDate / Revoked; anything
        // else is treated as out of date.
        _ => match platform {
            UpToDate | SWHardeningNeeded => OutOfDate,
            ConfigurationNeeded | ConfigurationAndSWHardeningNeeded => OutOfDateConfigurationNeeded,
            OutOfDate | OutOfDateConfigurationNeeded | Revoked => platform,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::TcbStatus::*;
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in TcbStatus::ALL {
            assert_eq!(TcbStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TcbStatus::parse("uptodate"), None);
        assert_eq!(TcbStatus::parse("NotGonnaHappen"), None);
    }

    #[test]
    fn default_accepts_up_to_date_and_sw_hardening() {
        let set = AcceptedStatuses::default();
        assert!(set.contains(UpToDate));
        assert!(set.contains(SWHardeningNeeded));
        for s in [
            ConfigurationNeeded,
            ConfigurationAndSWHardeningNeeded,
            OutOfDate,
            OutOfDateConfigurationNeeded,
        ] {
            assert!(!set.contains(s), "{s}");
        }
        assert!(!set.contains(Revoked));
    }

    #[test]
    fn revoked_is_never_accepted() {
        assert!(!AcceptedStatuses::all_but_revoked().contains(Revoked));
        assert!(!AcceptedStatuses::only(&[Revoked]).contains(Revoked));
        assert!(AcceptedStatuses::all_but_revoked().contains(OutOfDateConfigurationNeeded));
    }

    #[test]
    fn convergence_follows_intel() {
        assert_eq!(converge(UpToDate, UpToDate), UpToDate);
        assert_eq!(converge(SWHardeningNeeded, UpToDate), SWHardeningNeeded);
        assert_eq!(converge(UpToDate, OutOfDate), OutOfDate);
        assert_eq!(converge(SWHardeningNeeded, OutOfDate), OutOfDate);
        assert_eq!(converge(ConfigurationNeeded, OutOfDate), OutOfDateConfigurationNeeded);
        assert_eq!(
            converge(ConfigurationAndSWHardeningNeeded, OutOfDate),
            OutOfDateConfigurationNeeded
        );
        assert_eq!(converge(OutOfDate, OutOfDate), OutOfDate);
        assert_eq!(converge(ConfigurationNeeded, Revoked), Revoked);
        assert_eq!(converge(Revoked, UpToDate), Revoked);
    }
}
