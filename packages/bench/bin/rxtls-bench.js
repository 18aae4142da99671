#!/usr/bin/env node
// The rxtls-bench command (src/cli.ts, built into dist/ by `pnpm build`).
import '../dist/cli.js';
