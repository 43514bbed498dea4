/**
 * Setup of the unit project (vitest `setupFiles`, after `tests/setup.ts`; runs before each test file).
 *
 * - The Lambda runtime's environment that every handler test needs: the region, and Powertools
 *   quiet (no log lines, no metrics flush, no X-Ray). A test file sets its handler's own
 *   configuration (`vi.hoisted`, or `loadHandler(name, env)`).
 * - After each test: every `mockAws` stub is reset and stubbed globals (`fetch`) are restored.
 */
import { afterEach, vi } from 'vitest';
import { resetAwsMocks } from './helpers/aws.js';

Object.assign(process.env, {
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_TRACE_ENABLED: 'false',
});

afterEach(() => {
  resetAwsMocks();
  vi.unstubAllGlobals();
});
