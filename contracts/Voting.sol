// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title Voting
/// @notice One deployment holds one node's opinion: its owner records, per
///         transaction hash, whether it approves. quorum-check reads the
///         opinion back through `vote(bytes32)` on every node it is given.
contract Voting {
    /// @notice The account allowed to cast votes.
    address public immutable owner;

    mapping(bytes32 => bool) private approvals;

    /// @notice Emitted whenever the owner records or changes a vote.
    event VoteCast(bytes32 indexed txHash, bool approve);

    /// @notice Raised when anyone but the owner tries to vote.
    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Record (or change) this node's vote for `txHash`.
    function castVote(bytes32 txHash, bool approve) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        approvals[txHash] = approve;
        emit VoteCast(txHash, approve);
    }

    /// @notice This node's vote for `txHash`: true when it approves.
    function vote(bytes32 txHash) external view returns (bool) {
        return approvals[txHash];
    }
}
