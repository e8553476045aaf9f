// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title WeightedVoting
/// @notice Like Voting, but a node's vote is a weight (0 = no support)
///         rather than a yes/no. quorum-check sums the weights it reads.
contract WeightedVoting {
    /// @notice The account allowed to cast votes.
    address public immutable owner;

    mapping(bytes32 => uint256) private weights;

    /// @notice Emitted whenever the owner records or changes a weight.
    event VoteCast(bytes32 indexed txHash, uint256 weight);

    /// @notice Raised when anyone but the owner tries to vote.
    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Record (or change) this node's weight for `txHash`.
    function castVote(bytes32 txHash, uint256 weight) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        weights[txHash] = weight;
        emit VoteCast(txHash, weight);
    }

    /// @notice This node's weight for `txHash`.
    function vote(bytes32 txHash) external view returns (uint256) {
        return weights[txHash];
    }
}
