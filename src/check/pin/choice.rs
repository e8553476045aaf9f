//! The pure choice behind `--block pinned`, apart from any network: from the
//! heads the nodes claim — any of which may be a lie — where to read first,
//! how far back a read may ever go, which lower block to try when nodes
//! behind the first one could still settle an open verdict, and whether a
//! reading at a lower block may replace the one above it.
//!
//! What it guarantees, with `spare` = total weight − the weight needed (the
//! weight that may fail or lie without costing a decision) and liars holding
//! at most `spare`: the [`Plan::top`] is a head some honest node has, so the
//! window `[top − max_lag, …]` never cuts off honest nodes within `max_lag`
//! of each other; the first pin is no lower than every honest head (liars
//! cannot pull it down); the lower pins tried reach the lowest honest head in
//! the window whenever the nodes behind could settle a verdict; and a
//! lower, older block adds the answers of the nodes behind without undoing a
//! vote cast since.

use crate::{abi::VoteValue, tally::Tally};

/// A head one node reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The node's position in the configuration.
    pub node: usize,
    /// The block it says it has.
    pub head: u64,
    /// Its weight in the tally.
    pub weight: u64,
}

/// Where a pinned run may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The highest head claimed by more than `spare` weight: however liars
    /// holding at most `spare` claim, an honest node has it.
    pub top: u64,
    /// The lowest block a read may use, `top − max_lag`: nodes below it are
    /// lagging at every pin and never pull one down.
    pub floor: u64,
    /// The first pin: the highest head that nodes holding the needed weight
    /// have reached, among the claims not below the floor; with less weight
    /// than needed above the floor, the lowest head above it.
    pub first: u64,
}

/// The plan for `claims`; `None` when no node gave its head.
pub(crate) fn plan(claims: &[Claim], needed: u128, spare: u128, max_lag: u64) -> Option<Plan> {
    let by_head = highest_first(claims.iter());
    let lowest = by_head.last()?.0;
    // Set the top `spare` weight of claims aside: that much may be lies.
    let top = highest_reached_by(&by_head, spare.saturating_add(1)).unwrap_or(lowest);
    let floor = top.saturating_sub(max_lag);
    let in_window: Vec<(u64, u128)> = by_head.into_iter().filter(|(head, _)| *head >= floor).collect();
    let first = highest_reached_by(&in_window, needed)
        .or_else(|| in_window.last().map(|(head, _)| *head))
        .unwrap_or(top);
    Some(Plan { top, floor, first })
}

/// The next block to read at below `current`, for a verdict that `weight`
/// more answering weight could settle: the highest claimed head below
/// `current`, not below the floor, such that the nodes which reach it but not
/// `current` hold at least `weight`. `None` when no lower head could.
pub(crate) fn lower_pin(claims: &[Claim], plan: &Plan, current: u64, weight: u128) -> Option<u64> {
    let joining = highest_first(claims.iter().filter(|c| c.head < current && c.head >= plan.floor));
    highest_reached_by(&joining, weight.max(1))
}

/// How much answering weight, were it all to vote one way, could still
/// settle `tally`; `None` when it is settled. A uint vote can carry any
/// amount, so for uint votes any weight could.
pub(crate) fn weight_to_settle(tally: &Tally, uint_votes: bool) -> Option<u128> {
    if tally.settled().is_some() {
        return None;
    }
    if uint_votes {
        return Some(1);
    }
    let to_confirm = tally.threshold().saturating_sub(tally.yes());
    // Rejected once the no-weight exceeds total − threshold.
    let to_reject = (tally.total_weight().saturating_sub(tally.threshold()) + 1).saturating_sub(tally.no());
    Some(to_confirm.min(to_reject).max(1))
}

/// Whether a reading at a lower pin may replace the reading above it. Each
/// answer is a node's `(weight, vote above, vote below)`. The lower reading
/// must settle the verdict, and settle it the same way when every node that
/// voted above keeps that vote: a vote that differs between the two blocks —
/// cast in between, or a liar's change of mind — must not decide. The nodes
/// that only the lower block reached (the ones behind) count with their
/// answer there.
pub(crate) fn lower_reading_stands(
    threshold: u128,
    total_weight: u128,
    uint_votes: bool,
    answers: impl IntoIterator<Item = (u64, Option<VoteValue>, Option<VoteValue>)>,
) -> bool {
    let mut lower = Tally::new(threshold, total_weight, uint_votes);
    let mut freshest = Tally::new(threshold, total_weight, uint_votes);
    for (weight, above, below) in answers {
        match below {
            Some(vote) => lower.record_vote(weight, vote),
            None => lower.record_failure(weight),
        }
        match above.or(below) {
            Some(vote) => freshest.record_vote(weight, vote),
            None => freshest.record_failure(weight),
        }
    }
    lower.settled().is_some() && lower.settled() == freshest.settled()
}

/// `(head, weight)` of `claims`, highest head first.
fn highest_first<'a>(claims: impl Iterator<Item = &'a Claim>) -> Vec<(u64, u128)> {
    let mut by_head: Vec<(u64, u128)> = claims.map(|c| (c.head, u128::from(c.weight))).collect();
    by_head.sort_unstable_by_key(|(head, _)| std::cmp::Reverse(*head));
    by_head
}

/// In `by_head` (highest first), the highest head that claims holding at
/// least `weight` have reached.
fn highest_reached_by(by_head: &[(u64, u128)], weight: u128) -> Option<u64> {
    let mut covered = 0u128;
    by_head
        .iter()
        .find(|(_, w)| {
            covered = covered.saturating_add(*w);
            covered >= weight
        })
        .map(|(head, _)| *head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Claims of weight 1 each, nodes numbered in order.
    fn claims(heads: &[u64]) -> Vec<Claim> {
        heads
            .iter()
            .enumerate()
            .map(|(node, &head)| Claim { node, head, weight: 1 })
            .collect()
    }

    const FAR: u64 = 1_000_000_000_000;

    #[test]
    fn no_claims_no_plan() {
        assert_eq!(plan(&[], 7, 3, 64), None);
    }

    #[test]
    fn liars_far_ahead_set_neither_the_top_nor_the_window() {
        // The fleet: 5 honest at 101, 3 honest at 100, 2 liars at 10^12; 7 of 10.
        let fleet = claims(&[101, 101, 101, 101, 101, 100, 100, 100, FAR, FAR]);
        let p = plan(&fleet, 7, 3, 64).unwrap();
        assert_eq!(
            p,
            Plan {
                top: 101,
                floor: 37,
                first: 101
            }
        );
        // At 101 the 3 behind are lagging; if 2 more yes-weight would settle it, 100 is next.
        assert_eq!(lower_pin(&fleet, &p, 101, 2), Some(100));
        // Weight the 3 behind do not hold: no lower pin can help.
        assert_eq!(lower_pin(&fleet, &p, 101, 4), None);
        // Nothing below 100.
        assert_eq!(lower_pin(&fleet, &p, 100, 1), None);
    }

    #[test]
    fn liars_claiming_the_honest_head_lower_the_first_pin_to_it() {
        let fleet = claims(&[101, 101, 101, 101, 101, 100, 100, 100, 100, 100]);
        assert_eq!(plan(&fleet, 7, 3, 64).unwrap().first, 100);
    }

    #[test]
    fn a_low_liar_neither_drags_the_first_pin_nor_gets_inside_the_window() {
        let fleet = claims(&[200, 200, 200, 200, 200, 200, 200, 200, 200, 0]);
        let p = plan(&fleet, 7, 3, 64).unwrap();
        assert_eq!(
            p,
            Plan {
                top: 200,
                floor: 136,
                first: 200
            }
        );
        assert_eq!(lower_pin(&fleet, &p, 200, 1), None, "0 is below the floor");
        // Inside the window it is a candidate, but only one step at a time.
        let fleet = claims(&[200, 200, 200, 200, 200, 200, 200, 200, 199, 150]);
        let p = plan(&fleet, 7, 3, 64).unwrap();
        assert_eq!(p.first, 200);
        assert_eq!(lower_pin(&fleet, &p, 200, 1), Some(199));
        assert_eq!(lower_pin(&fleet, &p, 200, 2), Some(150));
    }

    #[test]
    fn a_low_threshold_lets_liars_set_the_first_pin_but_not_the_top() {
        // Threshold 1 of 3: one liar far ahead covers the needed weight alone.
        let fleet = claims(&[FAR, 5, 5]);
        let p = plan(&fleet, 1, 2, 64).unwrap();
        assert_eq!((p.top, p.first), (5, FAR));
        // Its call fails there; both honest nodes join one block lower.
        assert_eq!(lower_pin(&fleet, &p, FAR, 1), Some(5));
        // Liars claiming 0 pull the top down, never the first pin.
        let fleet = claims(&[0, 0, 90]);
        let p = plan(&fleet, 1, 2, 64).unwrap();
        assert_eq!((p.top, p.floor, p.first), (0, 0, 90));
    }

    #[test]
    fn threshold_all_pins_at_the_slowest_node_within_the_window_only() {
        let five_behind = claims(&[105, 105, 105, 100]);
        let p = plan(&five_behind, 4, 0, 64).unwrap();
        assert_eq!((p.top, p.first), (105, 100));
        let far_behind = claims(&[205, 205, 205, 105]);
        let p = plan(&far_behind, 4, 0, 64).unwrap();
        assert_eq!((p.top, p.floor, p.first), (205, 141, 205));
        assert_eq!(lower_pin(&far_behind, &p, 205, 1), None);
        // A window of exactly the lag lets it in.
        let p = plan(&far_behind, 4, 0, 100).unwrap();
        assert_eq!(p.first, 105);
    }

    #[test]
    fn weights_count_not_nodes() {
        let fleet = vec![
            Claim {
                node: 0,
                head: 50,
                weight: 6,
            },
            Claim {
                node: 1,
                head: 40,
                weight: 1,
            },
            Claim {
                node: 2,
                head: 30,
                weight: 3,
            },
        ];
        // 7 of 10: spare 3 — the heaviest node alone is more than that.
        let p = plan(&fleet, 7, 3, 64).unwrap();
        assert_eq!((p.top, p.first), (50, 40));
        assert_eq!(lower_pin(&fleet, &p, 40, 3), Some(30));
        assert_eq!(lower_pin(&fleet, &p, 40, 4), None);
    }

    #[test]
    fn extreme_heads_and_weights_do_not_overflow() {
        let fleet = vec![
            Claim {
                node: 0,
                head: u64::MAX,
                weight: u64::MAX,
            },
            Claim {
                node: 1,
                head: 0,
                weight: u64::MAX,
            },
            Claim {
                node: 2,
                head: u64::MAX,
                weight: u64::MAX,
            },
        ];
        let p = plan(&fleet, u128::MAX, u128::MAX, u64::MAX).unwrap();
        assert_eq!((p.top, p.floor, p.first), (0, 0, 0));
        let p = plan(&fleet, 1, 0, 0).unwrap();
        assert_eq!((p.top, p.floor, p.first), (u64::MAX, u64::MAX, u64::MAX));
        assert_eq!(lower_pin(&fleet, &p, u64::MAX, u128::MAX), None);
    }

    fn bool_tally(threshold: u128, total: u128, yes: u64, no: u64) -> Tally {
        let mut t = Tally::new(threshold, total, false);
        if yes > 0 {
            t.record_vote(yes, VoteValue::Bool(true));
        }
        if no > 0 {
            t.record_vote(no, VoteValue::Bool(false));
        }
        t
    }

    #[test]
    fn the_weight_that_could_settle_a_verdict() {
        // 7 of 10: 5 yes, 0 no — 2 more yes confirm, 4 no would reject.
        assert_eq!(weight_to_settle(&bool_tally(7, 10, 5, 0), false), Some(2));
        // 6 yes, 3 no: one more either way settles it.
        assert_eq!(weight_to_settle(&bool_tally(7, 10, 6, 3), false), Some(1));
        // 0 yes, 2 no: 2 more no reject (4 > 3) before 7 yes could confirm.
        assert_eq!(weight_to_settle(&bool_tally(7, 10, 0, 2), false), Some(2));
        assert_eq!(weight_to_settle(&bool_tally(7, 10, 7, 0), false), None);
        assert_eq!(weight_to_settle(&bool_tally(7, 10, 0, 4), false), None);
        let open_uint = Tally::new(100, 10, true);
        assert_eq!(weight_to_settle(&open_uint, true), Some(1));
    }

    const YES: Option<VoteValue> = Some(VoteValue::Bool(true));
    const NO: Option<VoteValue> = Some(VoteValue::Bool(false));

    #[test]
    fn a_lower_reading_adds_the_nodes_behind() {
        // Above: 5 yes, 3 behind, 2 failing. Below: the 3 join with yes.
        let mut answers = vec![(1, YES, YES); 5];
        answers.extend([(1, None, YES); 3]);
        answers.extend([(1, None, None); 2]);
        assert!(lower_reading_stands(7, 10, false, answers.clone()));
        // A liar that answered above and turns below cannot stop it.
        answers[8] = (1, YES, NO);
        assert!(lower_reading_stands(7, 10, false, answers));
    }

    #[test]
    fn a_lower_reading_cannot_undo_votes_cast_since() {
        // Above: 6 yes and 3 no; a node behind (claiming an old head) says yes.
        // Below, before the votes were cast, all 9 said no: a stale rejection.
        let mut answers = vec![(1, YES, NO); 6];
        answers.extend([(1, NO, NO); 3]);
        answers.push((1, None, YES));
        assert!(!lower_reading_stands(7, 10, false, answers));
        // Still open below: nothing to replace.
        let mut answers = vec![(1, YES, YES); 5];
        answers.extend([(1, None, None); 5]);
        assert!(!lower_reading_stands(7, 10, false, answers));
    }

    /// An honest fleet whose heads lie within `max_lag` of each other, a
    /// needed weight the honest nodes hold (so the liars hold at most the
    /// spare weight), and liars claiming anything.
    fn fleets() -> impl Strategy<Value = (Vec<Claim>, Vec<bool>, u128, u64)> {
        let liar_head = prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 900u64..1100];
        (
            prop::collection::vec((0u64..40, 1u64..4), 1..12),
            prop::collection::vec((liar_head, 1u64..4), 0..6),
            0u64..40,
            0.0f64..1.0,
        )
            .prop_map(|(honest, liars, slack, pick)| {
                let spread = honest.iter().map(|(behind, _)| *behind).max().unwrap_or(0);
                let honest_weight: u128 = honest.iter().map(|(_, w)| u128::from(*w)).sum();
                let needed = 1 + ((honest_weight - 1) as f64 * pick) as u128;
                let mut claims = Vec::new();
                let mut is_honest = Vec::new();
                for (behind, weight) in honest {
                    claims.push(Claim {
                        node: claims.len(),
                        head: 1000 - behind,
                        weight,
                    });
                    is_honest.push(true);
                }
                for (head, weight) in liars {
                    claims.push(Claim {
                        node: claims.len(),
                        head,
                        weight,
                    });
                    is_honest.push(false);
                }
                (claims, is_honest, needed, spread + slack)
            })
    }

    proptest! {
        /// With at most the spare weight of liars claiming anything, and the
        /// honest heads within `max_lag` of each other: no honest node is
        /// outside the window; the first pin is at least the lowest honest
        /// head; and stepping down from it, one candidate at a time, reaches
        /// a block every honest node has — the lowest honest head — without
        /// ever going below the window.
        #[test]
        fn liars_cannot_keep_the_pin_from_the_honest_nodes((fleet, honest, needed, max_lag) in fleets()) {
            let total: u128 = fleet.iter().map(|c| u128::from(c.weight)).sum();
            let spare = total - needed;
            let p = plan(&fleet, needed, spare, max_lag).unwrap();
            let honest_heads: Vec<u64> = fleet.iter().zip(&honest).filter(|(_, h)| **h).map(|(c, _)| c.head).collect();
            let lowest = *honest_heads.iter().min().unwrap();
            let highest = *honest_heads.iter().max().unwrap();
            prop_assert!(p.top <= highest, "top {} above every honest head {:?}", p.top, honest_heads);
            prop_assert!(p.floor <= lowest, "honest head {} below the floor {}", lowest, p.floor);
            prop_assert!(p.first >= lowest, "first pin {} below every honest head", p.first);
            let mut pin = p.first;
            let mut steps = 0;
            while pin > lowest {
                let Some(next) = lower_pin(&fleet, &p, pin, 1) else {
                    return Err(TestCaseError::fail(format!("stuck at {pin}, lowest honest head {lowest}")));
                };
                prop_assert!(next < pin && next >= p.floor);
                // Needing every honest node behind still lands on a head they all have.
                let behind: u128 = fleet.iter().zip(&honest)
                    .filter(|(c, h)| **h && c.head < pin)
                    .map(|(c, _)| u128::from(c.weight))
                    .sum();
                let all_behind = lower_pin(&fleet, &p, pin, behind);
                prop_assert!(all_behind.is_some_and(|b| b >= lowest), "{:?} for {} behind {}", all_behind, behind, pin);
                pin = next;
                steps += 1;
            }
            prop_assert_eq!(pin, lowest);
            prop_assert!(steps < fleet.len());
        }

        /// When every node that answered above answers the same below, a
        /// lower reading stands exactly when it settles.
        #[test]
        fn unchanged_votes_below_stand_when_they_settle(
            nodes in prop::collection::vec((1u64..4, prop::option::of(any::<bool>()), prop::option::of(any::<bool>())), 1..12),
            pick in 0.0f64..1.0,
        ) {
            let total: u128 = nodes.iter().map(|(w, _, _)| u128::from(*w)).sum();
            let threshold = 1 + ((total - 1) as f64 * pick) as u128;
            // Every node that answered above answers the same below; the others may have anything below.
            let answers: Vec<_> = nodes.iter().map(|&(w, above, below)| {
                let above = above.map(VoteValue::Bool);
                let below = above.or(below.map(VoteValue::Bool));
                (w, above, below)
            }).collect();
            let mut lower = Tally::new(threshold, total, false);
            for (w, _, below) in &answers {
                match below {
                    Some(v) => lower.record_vote(*w, *v),
                    None => lower.record_failure(*w),
                }
            }
            prop_assert_eq!(lower_reading_stands(threshold, total, false, answers), lower.settled().is_some());
        }

        /// Liars cannot stop a lower reading that the honest nodes settle:
        /// with every honest vote the same at both blocks (or readable only
        /// below), whatever the liars answer above and below, a reading in
        /// which the honest yes-weight reaches the threshold, or the honest
        /// no-weight puts it out of reach, stands.
        #[test]
        fn liars_cannot_stop_a_reading_the_honest_nodes_settle(
            honest in prop::collection::vec((1u64..4, any::<bool>(), any::<bool>()), 1..10),
            liars in prop::collection::vec((1u64..4, prop::option::of(any::<bool>()), prop::option::of(any::<bool>())), 0..5),
            pick in 0.0f64..1.0,
        ) {
            let honest_weight: u128 = honest.iter().map(|(w, _, _)| u128::from(*w)).sum();
            let liar_weight: u128 = liars.iter().map(|(w, _, _)| u128::from(*w)).sum();
            let total = honest_weight + liar_weight;
            // The liars hold at most total − threshold.
            let threshold = 1 + ((honest_weight - 1) as f64 * pick) as u128;
            let yes: u128 = honest.iter().filter(|(_, v, _)| *v).map(|(w, _, _)| u128::from(*w)).sum();
            let no = honest_weight - yes;
            let answers = honest
                .iter()
                .map(|&(w, vote, above)| (w, above.then_some(VoteValue::Bool(vote)), Some(VoteValue::Bool(vote))))
                .chain(liars.iter().map(|&(w, above, below)| (w, above.map(VoteValue::Bool), below.map(VoteValue::Bool))));
            if yes >= threshold || no > total - threshold {
                prop_assert!(lower_reading_stands(threshold, total, false, answers));
            }
        }
    }
}
