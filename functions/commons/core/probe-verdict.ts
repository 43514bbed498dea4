/**
 * Probe verdict: interpret the probe suite's output. Pure.
 *
 * The probe suite (`probe/`) prints one JSON object per line on stdout,
 * `{"check":"<name>","ok":true|false,"detail":"<text>"}`, and exits non-zero when any check fails.
 * Anything else on a line (banners, blank lines) is tolerated only if at least one valid check line
 * exists; lines that look like JSON but are not a valid check are reported as failures.
 */
export interface ProbeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProbeVerdict {
  passed: boolean;
  checks: ProbeCheck[];
  /** Names of failed checks, plus synthetic `probe:*` entries for suite-level problems. */
  failed: string[];
  /** One-line human summary, e.g. `12/12 checks passed`. */
  summary: string;
}

const parseLine = (line: string): ProbeCheck | 'invalid' | 'skip' => {
  const trimmed = line.trim();
  if (trimmed === '') return 'skip';
  if (!trimmed.startsWith('{')) return 'skip';
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return 'invalid';
  }
  if (typeof value !== 'object' || value === null) return 'invalid';
  const record = value as Record<string, unknown>;
  if (typeof record.check !== 'string' || record.check === '' || typeof record.ok !== 'boolean')
    return 'invalid';
  return {
    name: record.check,
    ok: record.ok,
    detail: typeof record.detail === 'string' ? record.detail : '',
  };
};

/**
 * Turn the suite's stdout and exit code into a verdict.
 * Passed only when: exit code is 0, at least one check line parsed, every check ok, no malformed lines.
 * @param exitCode process exit code; `undefined` when unknown (treated as a failure).
 */
export const probeVerdict = (stdout: string, exitCode: number | undefined): ProbeVerdict => {
  const checks: ProbeCheck[] = [];
  let invalid = 0;
  for (const line of stdout.split(/\r?\n/)) {
    const parsed = parseLine(line);
    if (parsed === 'skip') continue;
    if (parsed === 'invalid') invalid += 1;
    else checks.push(parsed);
  }
  const failed = checks.filter((check) => !check.ok).map((check) => check.name);
  const problems: string[] = [];
  if (checks.length === 0) {
    failed.push('probe:no-output');
    problems.push('the probe printed no check lines');
  }
  if (invalid > 0) {
    failed.push('probe:malformed-output');
    problems.push(`${invalid} malformed check line(s)`);
  }
  if (exitCode !== 0 && failed.length === 0) {
    failed.push('probe:exit-code');
    problems.push(`the probe exited with ${exitCode ?? 'an unknown code'} although every check passed`);
  }
  const passed = failed.length === 0;
  const okCount = checks.filter((check) => check.ok).length;
  const summary = [`${okCount}/${checks.length} checks passed`, ...problems].join('; ');
  return { passed, checks, failed, summary };
};
