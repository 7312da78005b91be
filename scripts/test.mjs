#!/usr/bin/env node
// The README's test command: type-check, then run every vitest test (the global setup starts Redis and the
// S3-protocol server on free loopback ports and stops them after). Ends with one line: "tests: N passed, N failed".
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } });
let passed = 0;
let failed = 0;

const tsc = run('npx', ['tsc', '--noEmit']);
if (tsc.status === 0) passed++;
else {
  failed++;
  console.error('type check failed');
}

mkdirSync('.tmp', { recursive: true });
const report = '.tmp/vitest-report.json';
rmSync(report, { force: true });
const vitest = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // A file that fails to load counts its suite as failed even though no test ran.
  failed += r.testResults.filter((t) => t.status === 'failed' && t.assertionResults.length === 0).length;
} catch {
  failed++;
  console.error(`vitest wrote no report (exit ${vitest.status})`);
}
if (vitest.status !== 0 && failed === 0) failed++;
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
