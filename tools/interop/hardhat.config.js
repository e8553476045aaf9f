// The hardhat node tests/interop.rs starts (`npx hardhat node`): hardhat
// insists on a config file beside its local install. Chain 31337, as anvil.
module.exports = {
  networks: { hardhat: { chainId: 31337 } },
};
