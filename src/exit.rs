//! The exit statuses of the `quorum-check` process: one type says what each
//! code means. The reports choose theirs ([`Report::exit_code`](crate::Report::exit_code)),
//! the subcommands return one, and the man page's EXIT STATUS sections are
//! written from it, so that code and documentation cannot drift apart.

/// What a run's exit code says. Each subcommand uses the subset its man page
/// lists; the numbers are a promise to cron jobs and scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// 0: every transaction confirmed (`check`, `watch`); the healthy nodes
    /// hold the threshold (`nodes`); the whole range covered (`scan`); done.
    Success,
    /// 1: the answer is no — some transaction rejected and none
    /// inconclusive; for `nodes`, the healthy nodes cannot reach the threshold.
    Rejected,
    /// 2: a usage, configuration or input error (one line on stderr), or the
    /// work itself failed.
    Usage,
    /// 3: inconclusive — nodes failed and a verdict cannot be known; for
    /// `scan`, part of the range not covered; for `demo`, a verdict not as expected.
    Inconclusive,
    /// 4: `watch` gave up: its deadline passed before every transaction was confirmed.
    GaveUp,
}

impl ExitStatus {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Rejected => 1,
            Self::Usage => 2,
            Self::Inconclusive => 3,
            Self::GaveUp => 4,
        }
    }

    /// The status of a set of verdicts: inconclusive over rejected over success.
    pub(crate) fn of_verdicts(rejected: usize, inconclusive: usize) -> Self {
        if inconclusive > 0 {
            Self::Inconclusive
        } else if rejected > 0 {
            Self::Rejected
        } else {
            Self::Success
        }
    }
}

impl From<ExitStatus> for u8 {
    fn from(status: ExitStatus) -> Self {
        status.code()
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        Self::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_the_documented_ones() {
        let codes: Vec<u8> = [
            ExitStatus::Success,
            ExitStatus::Rejected,
            ExitStatus::Usage,
            ExitStatus::Inconclusive,
            ExitStatus::GaveUp,
        ]
        .map(u8::from)
        .to_vec();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        assert_eq!(ExitStatus::of_verdicts(0, 0), ExitStatus::Success);
        assert_eq!(ExitStatus::of_verdicts(2, 0), ExitStatus::Rejected);
        assert_eq!(ExitStatus::of_verdicts(2, 1), ExitStatus::Inconclusive);
    }
}
