//! Coverage: which blocks enough nodes answered. A block counts as covered
//! when the nodes that answered it hold more than `total weight − threshold`
//! — then at least one answer comes from outside any set of nodes that the
//! threshold tolerates as faulty, so a minority that hides logs cannot make
//! a block look empty. The cursor never moves past an uncovered block.

use std::ops::RangeInclusive;

/// Blocks as inclusive ranges, in order, not overlapping.
pub type Blocks = Vec<RangeInclusive<u64>>;

/// The weight a block's answers must exceed: `total − threshold`, so that
/// it is covered at `total − threshold + 1`. With a threshold above the
/// total (impossible after validation) every block needs all the weight.
pub fn needed_weight(total: u128, threshold: u128) -> u128 {
    total.saturating_sub(threshold).saturating_add(1).min(total.max(1))
}

/// The blocks of `range` that nodes holding at least `needed` weight did not
/// all answer. `answered` holds each node's weight and the blocks it answered.
pub fn uncovered(range: RangeInclusive<u64>, answered: &[(u64, Blocks)], needed: u128) -> Blocks {
    let (from, to) = (*range.start(), *range.end());
    if from > to {
        return Vec::new();
    }
    // A sweep over the points where a node's answered blocks begin or end;
    // positions as u128 so that `end + 1` of the last block cannot overflow.
    let mut events: Vec<(u128, i128)> = Vec::new();
    for (weight, blocks) in answered {
        for b in blocks {
            let (s, e) = ((*b.start()).max(from), (*b.end()).min(to));
            if s > e {
                continue;
            }
            events.push((u128::from(s), i128::from(*weight)));
            events.push((u128::from(e) + 1, -i128::from(*weight)));
        }
    }
    events.sort_unstable();
    let mut out: Blocks = Vec::new();
    let mut weight: i128 = 0;
    let mut at = u128::from(from);
    let end = u128::from(to) + 1;
    let mut i = 0;
    while at < end {
        while i < events.len() && events[i].0 <= at {
            weight += events[i].1;
            i += 1;
        }
        let next = events.get(i).map_or(end, |e| e.0.min(end));
        if weight < 0 || (weight as u128) < needed {
            push(&mut out, at as u64, (next - 1) as u64);
        }
        at = next;
    }
    out
}

/// Appends `s..=e`, merged with the last range when they touch.
fn push(out: &mut Blocks, s: u64, e: u64) {
    if let Some(last) = out.last_mut()
        && last.end().checked_add(1) == Some(s)
    {
        *last = *last.start()..=e;
        return;
    }
    out.push(s..=e);
}

/// The first block the next scan must ask for: the first uncovered block of
/// `range`, or the block after it when everything was covered.
pub fn next_block(range: &RangeInclusive<u64>, uncovered: &Blocks) -> u64 {
    match uncovered.first() {
        Some(gap) => *gap.start(),
        None => range.end().saturating_add(1),
    }
}

/// `blocks` as `a-b, c, d-e` for a message.
pub fn describe(blocks: &Blocks) -> String {
    blocks
        .iter()
        .map(|b| {
            if b.start() == b.end() {
                b.start().to_string()
            } else {
                format!("{}-{}", b.start(), b.end())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_needs_more_than_total_minus_threshold() {
        // 10 nodes of weight 1, threshold 7: a block needs 4 answers.
        assert_eq!(needed_weight(10, 7), 4);
        assert_eq!(needed_weight(10, 10), 1);
        assert_eq!(needed_weight(10, 1), 10);
        assert_eq!(needed_weight(3, 9), 1);
        let three = vec![(1, vec![0..=99]); 3];
        assert_eq!(uncovered(0..=99, &three, 4), vec![0..=99]);
        let mut four = three.clone();
        four.push((1, vec![0..=49]));
        assert_eq!(uncovered(0..=99, &four, 4), vec![50..=99]);
    }

    #[test]
    fn weights_and_gaps_are_summed_per_block() {
        let answered = vec![(3, vec![0..=10, 20..=30]), (1, vec![5..=25]), (1, vec![])];
        // Needs 4: blocks 5..=10 and 20..=25 have 3 + 1.
        assert_eq!(uncovered(0..=30, &answered, 4), vec![0..=4, 11..=19, 26..=30]);
        assert_eq!(uncovered(0..=30, &answered, 3), vec![11..=19]);
        assert_eq!(uncovered(0..=30, &answered, 1), vec![]);
        // Answers outside the range do not count.
        assert_eq!(uncovered(40..=50, &answered, 1), vec![40..=50]);
        let empty = std::ops::RangeInclusive::new(5, 4);
        assert_eq!(uncovered(empty, &answered, 1), vec![]);
    }

    #[test]
    fn the_last_block_of_the_chain_does_not_overflow() {
        let answered = vec![(1, vec![u64::MAX - 5..=u64::MAX])];
        assert_eq!(
            uncovered(u64::MAX - 9..=u64::MAX, &answered, 1),
            vec![u64::MAX - 9..=u64::MAX - 6]
        );
        let range = u64::MAX - 9..=u64::MAX;
        assert_eq!(next_block(&range, &vec![]), u64::MAX);
    }

    #[test]
    fn the_cursor_stops_at_the_first_gap() {
        let range = 100..=200;
        assert_eq!(next_block(&range, &vec![150..=160, 190..=200]), 150);
        assert_eq!(next_block(&range, &vec![]), 201);
        assert_eq!(describe(&vec![150..=160, 190..=190]), "150-160, 190");
    }
}
