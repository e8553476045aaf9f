#!/usr/bin/env node
// Compiles contracts/*.sol with the pinned solc-js and writes, per contract:
//   abi/<Name>.json           the ABI array quorum-check loads with --abi
//   contracts/out/<Name>.bin  creation bytecode (hex) that devnet and the tests deploy
// Settings are fixed (compiler version from package-lock, evmVersion, optimizer,
// no metadata hash) so the same sources always give the same bytes.
// `--check` compiles in memory and exits 1 when a committed artifact differs.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const root = path.resolve(__dirname, '..');
const srcDir = path.join(root, 'contracts');
const abiDir = path.join(root, 'abi');
const binDir = path.join(srcDir, 'out');
const check = process.argv.includes('--check');

// The EVM version per source. The Multicall3-compatible Aggregator is put at
// Multicall3's address on every test chain, ganache 7 included, which knows
// no Cancun opcode (MCOPY): it targets Paris, as deployed Multicall3s do.
const DEFAULT_EVM = 'cancun';
const EVM = { 'Aggregator.sol': 'paris' };

const groups = new Map();
for (const file of fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()) {
  const evm = EVM[file] || DEFAULT_EVM;
  if (!groups.has(evm)) groups.set(evm, {});
  groups.get(evm)[file] = { content: fs.readFileSync(path.join(srcDir, file), 'utf8') };
}

const artifacts = new Map();
for (const [evmVersion, sources] of groups) {
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion,
      optimizer: { enabled: true, runs: 200 },
      metadata: { bytecodeHash: 'none', appendCBOR: false },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) console.error(e.formattedMessage);
  if (errors.length > 0) process.exit(1);
  for (const contracts of Object.values(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      artifacts.set(path.join(abiDir, `${name}.json`), JSON.stringify(c.abi, null, 2) + '\n');
      artifacts.set(path.join(binDir, `${name}.bin`), c.evm.bytecode.object + '\n');
    }
  }
}

let stale = 0;
for (const [file, text] of artifacts) {
  const rel = path.relative(root, file);
  if (check) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (current !== text) {
      console.error(`stale artifact: ${rel} (run: npm run compile)`);
      stale += 1;
    }
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    console.log(`wrote ${rel}`);
  }
}
if (check) {
  if (stale > 0) process.exit(1);
  console.log(`${artifacts.size} contract artifacts match solc ${solc.version()}`);
}
