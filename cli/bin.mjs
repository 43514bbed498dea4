#!/usr/bin/env node
// `npx factory <command>`: the operator CLI (cli/main.ts). TypeScript runs through tsx, as
// `npm run factory` runs local/cli.ts (`node --import tsx`).
import { register } from 'tsx/esm/api';

register();
await import('./entry.ts');
