// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @title Aggregator
/// @notice Runs many calls inside one: the `aggregate3` entry point of the
///         Multicall3 interface (same selector, same encoding), and nothing
///         else. devnet and the tests install its code at Multicall3's
///         canonical address so that quorum-check's default path, one
///         `eth_call` for hundreds of `vote()` reads, is the one exercised.
contract Aggregator {
    /// @notice One call to make: where, with what data, and whether its
    ///         failure may be reported rather than abort the whole batch.
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    /// @notice What one call gave: whether it succeeded, and its return data
    ///         (the revert data when it did not).
    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice A call that was not allowed to fail failed.
    error CallFailed(uint256 index);

    /// @notice Makes every call in order and returns each one's outcome.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory results) {
        uint256 n = calls.length;
        results = new Result[](n);
        for (uint256 i = 0; i < n; ++i) {
            Call3 calldata c = calls[i];
            (bool success, bytes memory returnData) = c.target.call(c.callData);
            if (!success && !c.allowFailure) revert CallFailed(i);
            results[i] = Result(success, returnData);
        }
    }
}
