// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title VoterRegistry
/// @notice One contract, many voters: every registered voter records its own
///         vote, and `vote(bytes32)` answers with the vote of the caller
///         (`msg.sender`). quorum-check reads it with one `from` address per
///         node, which is how the original script identified its nodes.
contract VoterRegistry {
    /// @notice The account that registers voters.
    address public immutable admin;

    mapping(address => bool) public isVoter;
    mapping(address => mapping(bytes32 => bool)) private approvals;

    /// @notice Emitted when a voter is registered.
    event VoterAdded(address indexed voter);
    /// @notice Emitted whenever a voter records or changes its vote.
    event VoteCast(address indexed voter, bytes32 indexed txHash, bool approve);

    /// @notice Raised when anyone but the admin registers a voter.
    error NotAdmin(address caller);
    /// @notice Raised when an unregistered account tries to vote.
    error NotVoter(address caller);

    constructor() {
        admin = msg.sender;
    }

    /// @notice Register `voter` so that it may cast votes.
    function addVoter(address voter) external {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        isVoter[voter] = true;
        emit VoterAdded(voter);
    }

    /// @notice Record (or change) the caller's vote for `txHash`.
    function castVote(bytes32 txHash, bool approve) external {
        if (!isVoter[msg.sender]) revert NotVoter(msg.sender);
        approvals[msg.sender][txHash] = approve;
        emit VoteCast(msg.sender, txHash, approve);
    }

    /// @notice The caller's vote for `txHash`: true when it approves.
    function vote(bytes32 txHash) external view returns (bool) {
        return approvals[msg.sender][txHash];
    }
}
