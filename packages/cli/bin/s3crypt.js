#!/usr/bin/env node
// The `s3crypt` binary: a committed shim (so npm can link it before the first build) that runs the
// compiled CLI and exits with its documented exit code.
import process from 'node:process';
import { main } from '../dist/esm/main.js';

// A reader that stops early (`s3crypt cat … | head`) ends the run as SIGPIPE ends any Unix tool.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(141);
  throw error;
});
process.exitCode = await main(process.argv.slice(2));
