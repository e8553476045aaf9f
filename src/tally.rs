//! The arithmetic of a quorum, for one transaction: votes in, verdict out.
//! Pure and synchronous, so early settlement can be reasoned about and
//! property-tested apart from any network.
//!
//! A verdict is *settled* as soon as no further answer can change it:
//! - confirmed: the "yes" weight already reaches the threshold;
//! - rejected (bool votes): the weight that answered "no" is so large that even
//!   if every other node (undecided, failed or not yet asked) said yes, the
//!   threshold could not be met;
//! - rejected (uint votes): every node answered and the sum is short — a weight
//!   is unbounded, so nothing less than all answers can rule a quorum out.
//!
//! Otherwise, once every node has answered or failed, the verdict is
//! inconclusive: failed nodes could have tipped it.

use serde::{Deserialize, Serialize};

use crate::abi::VoteValue;

/// The outcome for one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The yes-weight reached the threshold.
    Confirmed,
    /// The threshold cannot be reached any more.
    Rejected,
    /// Neither, because nodes failed.
    Inconclusive,
}

impl Verdict {
    /// The phrase users and scripts look for.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Confirmed => "Transaction confirmed",
            Self::Rejected => "Transaction rejected",
            Self::Inconclusive => "Transaction inconclusive",
        }
    }
}

/// Running totals for one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    threshold: u128,
    total_weight: u128,
    uint_votes: bool,
    /// Sum of contributions (weight × value).
    yes: u128,
    /// Weight of the nodes that answered no (false, or a zero weight).
    no_weight: u128,
    /// Weight of the nodes that gave a valid answer.
    answered_weight: u128,
    /// Weight of the nodes that failed (no valid answer will come).
    failed_weight: u128,
}

/// The sum of some weights (as u128: no count of u64 weights overflows it).
pub(crate) fn sum_weights(weights: impl IntoIterator<Item = u64>) -> u128 {
    weights.into_iter().map(u128::from).sum()
}

impl Tally {
    /// A tally with nothing counted yet.
    pub fn new(threshold: u128, total_weight: u128, uint_votes: bool) -> Self {
        Self {
            threshold,
            total_weight,
            uint_votes,
            yes: 0,
            no_weight: 0,
            answered_weight: 0,
            failed_weight: 0,
        }
    }

    /// Counts a node's valid answer.
    pub fn record_vote(&mut self, weight: u64, vote: VoteValue) {
        self.yes = self.yes.saturating_add(vote.contribution(weight));
        if vote.is_no() {
            self.no_weight += u128::from(weight);
        }
        self.answered_weight += u128::from(weight);
    }

    /// Notes that a node will not give a valid answer.
    pub fn record_failure(&mut self, weight: u64) {
        self.failed_weight += u128::from(weight);
    }

    /// The verdict if it can no longer change, else `None`.
    pub fn settled(&self) -> Option<Verdict> {
        if self.yes >= self.threshold {
            return Some(Verdict::Confirmed);
        }
        let cannot_reach = if self.uint_votes {
            self.answered_weight == self.total_weight
        } else {
            self.total_weight - self.no_weight < self.threshold
        };
        cannot_reach.then_some(Verdict::Rejected)
    }

    /// The verdict with what is known now: settled, or inconclusive.
    pub fn verdict(&self) -> Verdict {
        self.settled().unwrap_or(Verdict::Inconclusive)
    }

    /// Sum of contributions to "yes".
    pub fn yes(&self) -> u128 {
        self.yes
    }

    /// Weight of the nodes that answered no.
    pub fn no(&self) -> u128 {
        self.no_weight
    }

    /// Weight of the nodes without a valid answer (failed, skipped or pending).
    pub fn undecided(&self) -> u128 {
        self.total_weight - self.answered_weight
    }

    /// Weight of the nodes that failed.
    pub fn failed(&self) -> u128 {
        self.failed_weight
    }

    /// Weight of the nodes not yet heard from.
    pub fn pending(&self) -> u128 {
        self.total_weight - self.answered_weight - self.failed_weight
    }

    /// The absolute threshold.
    pub fn threshold(&self) -> u128 {
        self.threshold
    }

    /// The total weight of all nodes.
    pub fn total_weight(&self) -> u128 {
        self.total_weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U256;
    use proptest::prelude::*;

    fn bool_tally(threshold: u128, votes: &[Option<bool>]) -> Tally {
        let mut t = Tally::new(threshold, votes.len() as u128, false);
        for v in votes {
            match v {
                Some(b) => t.record_vote(1, VoteValue::Bool(*b)),
                None => t.record_failure(1),
            }
        }
        t
    }

    #[test]
    fn seven_of_ten() {
        let mut votes = vec![Some(true); 7];
        votes.extend([Some(false); 3]);
        assert_eq!(bool_tally(7, &votes).verdict(), Verdict::Confirmed);
        votes[0] = Some(false);
        let t = bool_tally(7, &votes);
        assert_eq!(t.verdict(), Verdict::Rejected);
        assert_eq!((t.yes(), t.no(), t.undecided()), (6, 4, 0));
    }

    #[test]
    fn settles_early_both_ways() {
        let mut t = Tally::new(7, 10, false);
        for _ in 0..6 {
            t.record_vote(1, VoteValue::Bool(true));
            assert_eq!(t.settled(), None);
        }
        t.record_vote(1, VoteValue::Bool(true));
        assert_eq!(t.settled(), Some(Verdict::Confirmed));

        let mut t = Tally::new(7, 10, false);
        for _ in 0..3 {
            t.record_vote(1, VoteValue::Bool(false));
            assert_eq!(t.settled(), None);
        }
        t.record_vote(1, VoteValue::Bool(false));
        assert_eq!(t.settled(), Some(Verdict::Rejected), "4 no of 10: at most 6 yes < 7");
    }

    #[test]
    fn failures_make_it_inconclusive_only_when_they_matter() {
        // 3 approving nodes down: yes 4, no 3, 3 unknown: could have been 7.
        let mut votes = vec![None; 3];
        votes.extend([Some(true); 4]);
        votes.extend([Some(false); 3]);
        let t = bool_tally(7, &votes);
        assert_eq!(t.verdict(), Verdict::Inconclusive);
        assert_eq!((t.yes(), t.no(), t.undecided(), t.failed()), (4, 3, 3, 3));
        // 3 rejecting nodes down: 7 yes is enough.
        let mut votes = vec![Some(true); 7];
        votes.extend([None; 3]);
        assert_eq!(bool_tally(7, &votes).verdict(), Verdict::Confirmed);
        // 4 no and 3 down: at most 6 yes.
        let mut votes = vec![Some(false); 4];
        votes.extend([None; 3]);
        votes.extend([Some(true); 3]);
        assert_eq!(bool_tally(7, &votes).verdict(), Verdict::Rejected);
    }

    #[test]
    fn weights_count() {
        let mut t = Tally::new(6, 10, false);
        t.record_vote(5, VoteValue::Bool(true));
        assert_eq!(t.settled(), None);
        t.record_vote(1, VoteValue::Bool(true));
        assert_eq!(t.settled(), Some(Verdict::Confirmed));
        let mut t = Tally::new(6, 10, false);
        t.record_vote(5, VoteValue::Bool(false));
        assert_eq!(t.settled(), Some(Verdict::Rejected));
    }

    #[test]
    fn uint_votes_reject_only_when_all_answered() {
        let mut t = Tally::new(100, 4, true);
        t.record_vote(1, VoteValue::Uint(U256::from(10)));
        t.record_vote(1, VoteValue::Uint(U256::ZERO));
        assert_eq!(t.settled(), None);
        t.record_vote(2, VoteValue::Uint(U256::from(40)));
        assert_eq!(t.settled(), Some(Verdict::Rejected));
        assert_eq!((t.yes(), t.no()), (90, 1));

        let mut t = Tally::new(100, 3, true);
        t.record_vote(1, VoteValue::Uint(U256::from(10)));
        t.record_failure(2);
        assert_eq!(t.verdict(), Verdict::Inconclusive);
        let mut t = Tally::new(100, 3, true);
        t.record_vote(1, VoteValue::Uint(U256::from(100)));
        assert_eq!(t.settled(), Some(Verdict::Confirmed));
    }

    #[derive(Debug, Clone)]
    enum Answer {
        Vote(bool),
        Fail,
    }

    fn answers() -> impl Strategy<Value = Vec<(u64, Answer)>> {
        prop::collection::vec(
            (
                1u64..5,
                prop_oneof![3 => any::<bool>().prop_map(Answer::Vote), 1 => Just(Answer::Fail)],
            ),
            1..16,
        )
    }

    proptest! {
        /// Once settled, a verdict never changes whatever the other nodes answer,
        /// and the final verdict does not depend on the order answers arrive in.
        #[test]
        fn settled_verdict_is_final(nodes in answers(), threshold_pick in 0.0f64..1.0, seed in any::<u64>()) {
            let total: u128 = nodes.iter().map(|(w, _)| u128::from(*w)).sum();
            let threshold = 1 + ((total - 1) as f64 * threshold_pick) as u128;
            let run = |order: &[usize]| {
                let mut t = Tally::new(threshold, total, false);
                let mut first_settled = None;
                for &i in order {
                    let (w, a) = &nodes[i];
                    match a {
                        Answer::Vote(b) => t.record_vote(*w, VoteValue::Bool(*b)),
                        Answer::Fail => t.record_failure(*w),
                    }
                    if let Some(v) = t.settled() {
                        let first = *first_settled.get_or_insert(v);
                        prop_assert_eq!(first, v, "settled verdict changed");
                    }
                }
                prop_assert_eq!(t.pending(), 0);
                if let Some(first) = first_settled {
                    prop_assert_eq!(first, t.verdict());
                }
                Ok(t.verdict())
            };
            let forward: Vec<usize> = (0..nodes.len()).collect();
            let mut shuffled = forward.clone();
            fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
            let a = run(&forward)?;
            let b = run(&shuffled)?;
            prop_assert_eq!(a, b);
            // The final verdict agrees with the plain definition.
            let yes: u128 = nodes.iter().filter(|(_, a)| matches!(a, Answer::Vote(true))).map(|(w, _)| u128::from(*w)).sum();
            let no: u128 = nodes.iter().filter(|(_, a)| matches!(a, Answer::Vote(false))).map(|(w, _)| u128::from(*w)).sum();
            let expected = if yes >= threshold { Verdict::Confirmed }
                else if total - no < threshold { Verdict::Rejected }
                else { Verdict::Inconclusive };
            prop_assert_eq!(a, expected);
        }
    }
}
