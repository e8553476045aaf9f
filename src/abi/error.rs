//! Why an ABI, a function or an answer cannot be used.

/// Why the ABI or the function in it cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AbiError {
    /// The ABI file could not be read.
    #[error("cannot read ABI file {path}")]
    Read {
        /// The file, as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be read within its bounds (size, time).
    #[error("{0}")]
    Input(String),
    /// The file is not a JSON ABI.
    #[error("ABI file {path} is not a JSON ABI array or an artifact with an \"abi\" field: {reason}")]
    Parse {
        /// The file, as given.
        path: String,
        /// The JSON parser's complaint.
        reason: String,
    },
    /// The ABI has no function of that name.
    #[error("ABI file {path} has no function '{wanted}' (functions found: {found})")]
    Missing {
        /// The file, as given.
        path: String,
        /// The function asked for.
        wanted: String,
        /// The functions it has (at most ten named).
        found: String,
    },
    /// The built-in ABI has no function of that name.
    #[error(
        "{path} has no function '{wanted}' (it has vote(bytes32) returns (bool)): pass --abi FILE, or a full signature such as {wanted}(bytes32)(bool)"
    )]
    MissingBuiltin {
        /// "the built-in Voting ABI".
        path: String,
        /// The function asked for.
        wanted: String,
    },
    /// A signature that does not parse.
    #[error("--function '{wanted}' is not a function signature such as vote(bytes32)(bool): {reason}")]
    Signature {
        /// The signature, as given (escaped).
        wanted: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A name with several overloads: the full signature is needed.
    #[error("function '{wanted}' in {path} is overloaded ({found}): pass the full signature with --function")]
    Ambiguous {
        /// The file, as given.
        path: String,
        /// The name asked for.
        wanted: String,
        /// The overloads.
        found: String,
    },
    /// The function does not take one bytes32 and return one bool or uint.
    #[error(
        "function {signature} in {path} cannot be a vote function: it must take exactly one bytes32 and return exactly one bool or uintN, found ({inputs}) returns ({outputs})"
    )]
    Shape {
        /// The file, as given.
        path: String,
        /// The function's signature.
        signature: String,
        /// Its parameter types.
        inputs: String,
        /// Its return types.
        outputs: String,
    },
}

/// Why a node's answer to an `eth_call` is not a vote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No data: no contract, or no such function.
    #[error("empty result (0x)")]
    Empty,
    /// Not exactly one 32-byte word (the length found).
    #[error("result is {0} bytes, expected exactly 32")]
    Length(usize),
    /// A bool word other than 0 or 1.
    #[error("result is not a canonical bool (0 or 1)")]
    NotBool,
    /// A uint word that does not fit the declared bits.
    #[error("result does not fit in uint{0}")]
    UintOverflow(usize),
}
