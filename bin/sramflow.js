#!/usr/bin/env node
// Entry point of the `sramflow` command. The TypeScript sources are compiled to dist/ by
// `npm install` (the prepare script).
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('sramflow: not built yet; run `npm install` (or `npm run build`) in the sramflow folder');
    process.exit(2);
  }
  throw e;
}
process.exitCode = await main(process.argv.slice(2));
