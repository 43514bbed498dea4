import { describe, expect, it } from 'vitest';
import { probeVerdict } from '#commons/core/probe-verdict.js';

const line = (check: string, ok: boolean, detail = '') => JSON.stringify({ check, ok, detail });

describe('probeVerdict', () => {
  it('passes when every check is ok and the exit code is 0', () => {
    const verdict = probeVerdict(
      [line('ssh-hardened', true), line('imds-v2', true, 'tokens required')].join('\n'),
      0,
    );
    expect(verdict).toEqual({
      passed: true,
      checks: [
        { name: 'ssh-hardened', ok: true, detail: '' },
        { name: 'imds-v2', ok: true, detail: 'tokens required' },
      ],
      failed: [],
      summary: '2/2 checks passed',
    });
  });

  it('fails and names the failed checks', () => {
    const verdict = probeVerdict(
      [line('a', true), line('b', false, 'port 23 open'), line('c', false)].join('\n'),
      1,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.failed).toEqual(['b', 'c']);
    expect(verdict.summary).toBe('1/3 checks passed');
  });

  it('tolerates banners, CRLF and blank lines around valid check lines', () => {
    const verdict = probeVerdict(`probe suite v1\r\n\r\n${line('a', true)}\r\n`, 0);
    expect(verdict.passed).toBe(true);
  });

  it.each([
    ['empty output', '', 0, 'probe:no-output'],
    ['only a banner', 'hello', 0, 'probe:no-output'],
    ['truncated JSON', `${line('a', true)}\n{"check":"b","ok":tr`, 0, 'probe:malformed-output'],
    ['JSON without ok', `${line('a', true)}\n{"check":"b"}`, 0, 'probe:malformed-output'],
    ['ok as string', `{"check":"a","ok":"true"}`, 0, 'probe:malformed-output'],
    ['non-zero exit with all ok', line('a', true), 2, 'probe:exit-code'],
    ['unknown exit code', line('a', true), undefined, 'probe:exit-code'],
  ])('fails on %s', (_label, stdout, exitCode, reason) => {
    const verdict = probeVerdict(stdout, exitCode);
    expect(verdict.passed).toBe(false);
    expect(verdict.failed).toContain(reason);
  });
});
