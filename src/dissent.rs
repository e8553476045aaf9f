//! Who disagrees: per node, on how many transactions its valid answer went
//! against a quorum that formed (`dissent`), and for how many it gave no
//! valid answer at all (`failed`). Pure arithmetic over a check's tallies,
//! no I/O: [`crate::report`] feeds it, the renderers and the dissent log
//! read the counts.
//!
//! - A *quorum* formed on a transaction when the yes-weight reached the
//!   threshold (the quorum is yes) or, failing that, the no-weight did (the
//!   quorum is no). When both reach it, as with a low threshold, the quorum
//!   is yes. A transaction where neither side reached it (still collecting
//!   votes, or too many nodes failed) has no dissenters.
//! - A node *dissents* on a transaction with a quorum when its valid answer
//!   is on the other side. With uint votes a positive weight is a yes and
//!   zero is a no, as in the tally.
//! - A node *failed* on a transaction when it gave no valid answer — whether
//!   or not a quorum formed.
//! - A node that was not waited for (early settlement, or an interrupted
//!   run) is neither: nothing is known about it.

/// A side of a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// For the transaction.
    Yes,
    /// Against it.
    No,
}

/// What one node's answer for one transaction was, as far as dissent goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// A valid vote on this side.
    Valid(Side),
    /// No valid answer: an error, a bad answer, another chain, a lagging head…
    Failed,
    /// Not waited for: the verdict was settled (or the run stopped) first.
    NotWaitedFor,
}

/// Why a node's answer is worth reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    /// A valid answer against the quorum.
    Dissent,
    /// No valid answer.
    Failed,
}

/// The side a quorum formed on, if any: yes when `yes` reaches `threshold`,
/// else no when `no` does.
pub fn quorum(yes: u128, no: u128, threshold: u128) -> Option<Side> {
    if yes >= threshold {
        Some(Side::Yes)
    } else if no >= threshold {
        Some(Side::No)
    } else {
        None
    }
}

/// Whether `answer` dissents from `quorum`, failed, or neither.
pub fn mark(quorum: Option<Side>, answer: Answer) -> Option<Mark> {
    match (quorum, answer) {
        (_, Answer::Failed) => Some(Mark::Failed),
        (Some(q), Answer::Valid(side)) if side != q => Some(Mark::Dissent),
        _ => None,
    }
}

/// One node's counts over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounts {
    /// Transactions with a quorum on which the node's valid answer was on the other side.
    pub dissent: u64,
    /// Transactions for which the node gave no valid answer.
    pub failed: u64,
}

/// Every node's counts over a run, and on how many transactions a quorum formed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Transactions on which a quorum formed (the "of N" of the text output).
    pub quorums: u64,
    /// Per node, in configuration order.
    pub nodes: Vec<NodeCounts>,
}

impl Counts {
    /// Nothing counted yet, for `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Self {
            quorums: 0,
            nodes: vec![NodeCounts::default(); nodes],
        }
    }

    /// Counts one transaction: its yes- and no-weight, the threshold, and
    /// every node's answer in configuration order (extra answers beyond the
    /// nodes counted at construction are ignored).
    pub fn add(&mut self, yes: u128, no: u128, threshold: u128, answers: impl IntoIterator<Item = Answer>) {
        let side = quorum(yes, no, threshold);
        if side.is_some() {
            self.quorums += 1;
        }
        for (node, answer) in self.nodes.iter_mut().zip(answers) {
            match mark(side, answer) {
                Some(Mark::Dissent) => node.dissent += 1,
                Some(Mark::Failed) => node.failed += 1,
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const YES: Answer = Answer::Valid(Side::Yes);
    const NO: Answer = Answer::Valid(Side::No);

    #[test]
    fn quorum_sides() {
        assert_eq!(quorum(7, 3, 7), Some(Side::Yes));
        assert_eq!(quorum(3, 7, 7), Some(Side::No));
        assert_eq!(quorum(6, 4, 7), None, "neither side reached 7");
        // A low threshold: both sides reach it, the quorum is yes.
        assert_eq!(quorum(5, 5, 2), Some(Side::Yes));
    }

    #[test]
    fn marks() {
        assert_eq!(mark(Some(Side::Yes), NO), Some(Mark::Dissent));
        assert_eq!(mark(Some(Side::No), YES), Some(Mark::Dissent));
        assert_eq!(mark(Some(Side::Yes), YES), None);
        assert_eq!(mark(None, NO), None, "no quorum, no dissenters");
        assert_eq!(mark(None, Answer::Failed), Some(Mark::Failed));
        assert_eq!(mark(Some(Side::Yes), Answer::Failed), Some(Mark::Failed));
        assert_eq!(mark(Some(Side::No), Answer::NotWaitedFor), None);
    }

    #[test]
    fn counts_over_a_run() {
        let mut counts = Counts::new(4);
        // Quorum yes: node 3 says no, node 4 failed.
        counts.add(2, 1, 2, [YES, YES, NO, Answer::Failed]);
        // No quorum: nobody dissents, node 4 still failed.
        counts.add(1, 1, 3, [YES, NO, Answer::NotWaitedFor, Answer::Failed]);
        // Quorum no: nodes 1 and 2 dissent, node 3 was not waited for.
        counts.add(0, 3, 3, [YES, YES, Answer::NotWaitedFor, NO]);
        assert_eq!(counts.quorums, 2);
        let got: Vec<(u64, u64)> = counts.nodes.iter().map(|n| (n.dissent, n.failed)).collect();
        assert_eq!(got, [(1, 0), (1, 0), (1, 0), (0, 2)]);
    }

    fn answer() -> impl Strategy<Value = (u64, Answer)> {
        (
            1u64..5,
            prop_oneof![
                3 => any::<bool>().prop_map(|y| Answer::Valid(if y { Side::Yes } else { Side::No })),
                1 => Just(Answer::Failed),
                1 => Just(Answer::NotWaitedFor),
            ],
        )
    }

    proptest! {
        /// Against the plain definition, with weights: the counts of one
        /// transaction follow from the weights of each side.
        #[test]
        fn counts_match_the_definition(nodes in prop::collection::vec(answer(), 1..12), pick in 0.0f64..1.0) {
            let weight = |side: Side| -> u128 {
                nodes.iter().filter(|(_, a)| *a == Answer::Valid(side)).map(|(w, _)| u128::from(*w)).sum()
            };
            let (yes, no) = (weight(Side::Yes), weight(Side::No));
            let total: u128 = nodes.iter().map(|(w, _)| u128::from(*w)).sum();
            let threshold = 1 + ((total - 1) as f64 * pick) as u128;
            let mut counts = Counts::new(nodes.len());
            counts.add(yes, no, threshold, nodes.iter().map(|(_, a)| *a));
            let formed = yes >= threshold || no >= threshold;
            prop_assert_eq!(counts.quorums, u64::from(formed));
            for ((_, a), c) in nodes.iter().zip(&counts.nodes) {
                prop_assert_eq!(c.failed, u64::from(*a == Answer::Failed));
                let dissents = match a {
                    Answer::Valid(Side::No) => yes >= threshold,
                    Answer::Valid(Side::Yes) => yes < threshold && no >= threshold,
                    _ => false,
                };
                prop_assert_eq!(c.dissent, u64::from(dissents));
                prop_assert!(c.dissent + c.failed <= 1);
            }
            // A dissenter is always in the minority's weight: the quorum's
            // side holds at least the threshold.
            let dissent_weight: u128 = nodes.iter().zip(&counts.nodes)
                .filter(|(_, c)| c.dissent == 1).map(|((w, _), _)| u128::from(*w)).sum();
            if dissent_weight > 0 {
                prop_assert!(total - dissent_weight >= threshold);
            }
        }
    }
}
