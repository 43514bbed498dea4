import type { Inspection } from '#commons/schemas.js';
import type { LocalRunSummary } from '#local/factory.js';

/** The final summary as printed to the terminal. */
export function renderSummary(summary: LocalRunSummary): string {
  const output = summary.output ?? {};
  const build = output.build as
    | {
        buildId?: string;
        imageDefinition?: string;
        sourceImageId?: string;
        sourceImageName?: string;
        parent?: { pipeline: string; channel: string; imageId: string };
      }
    | undefined;
  const candidate = output.candidate as { imageId?: string } | undefined;
  const probe = output.probeResult as
    | { checks?: Array<{ name: string; ok: boolean; detail: string }> }
    | undefined;
  const promotion = output.promotion as
    | {
        channel: string;
        imageId: string;
        previousImageId: string | null;
        parameterName: string;
        parameterVersion: number;
      }
    | undefined;
  const retention = output.retention as
    | {
        dryRun: boolean;
        outcomes: Array<{ imageId: string; action: string; outcome: string; reason: string }>;
      }
    | undefined;
  const inspection = output.inspection as Inspection | undefined;
  const lines = ['', `══ local factory: ${summary.status} ══`, `execution     ${summary.executionName}`];
  if (build?.parent)
    lines.push(
      `parent        ${build.parent.pipeline}/${build.parent.channel} → ${build.parent.imageId} (layered)`,
    );
  else if (summary.sourceImage)
    lines.push(`base image    ${summary.sourceImage.imageId} (${summary.sourceImage.name})`);
  if (build?.buildId) lines.push(`build id      ${build.buildId}`);
  if (build?.imageDefinition) lines.push(`definition    ${build.imageDefinition}`);
  if (candidate?.imageId)
    lines.push(`image         ${candidate.imageId}${summary.imagePath ? `  ${summary.imagePath}` : ''}`);
  if (inspection) {
    const sbom = inspection.sbom.startsWith('file://') ? new URL(inspection.sbom).pathname : inspection.sbom;
    lines.push(`sbom          ${sbom} (${inspection.packages} packages)`);
    const diff = inspection.diff.available
      ? [`against ${inspection.diff.againstImageId}: ${inspection.diff.summary}`]
      : [`not available: ${inspection.diff.reason}`];
    const [first = '', ...rest] = diff.join('\n').split('\n');
    lines.push(`packages      ${first}`, ...rest.map((line) => `              ${line}`));
    lines.push(`vulnerability ${inspection.verdict.summary}`);
  }
  for (const check of probe?.checks ?? [])
    lines.push(`probe         ${check.ok ? 'pass' : 'FAIL'} ${check.name}: ${check.detail}`);
  if (promotion) {
    lines.push(
      `promotion     ${promotion.channel} → ${promotion.imageId} (previous ${promotion.previousImageId ?? 'none'}; ${promotion.parameterName} v${promotion.parameterVersion})`,
    );
  }
  for (const outcome of retention?.outcomes ?? []) {
    lines.push(`retention     ${outcome.imageId} ${outcome.outcome} (${outcome.reason})`);
  }
  if (summary.clone) {
    lines.push(
      summary.clone.identical.length === 0
        ? 'clone check   machine-id and SSH host keys differ between two machines of the image'
        : `clone check   FAILED: clones share ${summary.clone.identical.join(', ')}`,
    );
  }
  if (summary.cloneCheckNotRun) lines.push(`clone check   NOT RUN: ${summary.cloneCheckNotRun}`);
  if (summary.error) lines.push(`error         ${summary.error.Error}: ${summary.error.Cause}`);
  lines.push('time per state (s):');
  for (const timing of summary.timings) {
    lines.push(
      `  ${timing.state.padEnd(24)} ${timing.seconds.toFixed(1).padStart(8)}${timing.entries > 1 ? `  (${timing.entries}×)` : ''}`,
    );
  }
  lines.push(`total         ${summary.totalSeconds.toFixed(1)} s`, '');
  return lines.join('\n');
}

/**
 * The exit status of `npm run factory` for a finished run: 130 when interrupted or aborted, 1 when
 * the execution failed, when the clone check found shared identities, or when the clone check
 * that was asked for could not run; else 0.
 */
export function exitStatus(
  summary: Pick<LocalRunSummary, 'status' | 'clone' | 'cloneCheckNotRun'>,
  interrupted = false,
): 0 | 1 | 130 {
  if (interrupted || summary.status === 'ABORTED') return 130;
  if (summary.status !== 'SUCCEEDED') return 1;
  if (summary.cloneCheckNotRun !== undefined) return 1;
  return summary.clone && summary.clone.identical.length > 0 ? 1 : 0;
}
