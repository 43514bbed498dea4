/**
 * `npm run factory -- [options]`: run the image factory pipeline locally on qemu.
 *
 * Options (all optional):
 *   --pipeline <name>        pipeline name (default `web`)
 *   --image <definition>     image definition to bake (default: the pipeline's, see below)
 *   --channel <name>         channel to promote to (default `stable`)
 *   --base-image <name>      base image (default `debian-12`, the only one available locally)
 *   --architecture <arch>    build only this architecture, `x86_64` or `arm64` (default: every one
 *                            the pipeline declares in `ARCHITECTURES`, one execution each, x86_64
 *                            first; a pipeline it does not name builds x86_64). arm64 needs the
 *                            opt-in FACTORY_LOCAL_ARM64=1 (emulated: see README "Architectures")
 *   --parent <p>[/<channel>] layered build: bake from the image pipeline <p>'s channel (default
 *                            `stable`) names in the same state directory, running only the image
 *                            definition's own roles (its base image is the parent's)
 *   --state-dir <dir>        catalog, VMs and build work dirs (default `.factory`)
 *   --retention-days <n>     retention: deregister images older than n days (default 30)
 *   --retention-keep <n>     retention: always keep the newest n images (default 3)
 *   --retention-dry-run      retention: print the plan, deregister nothing
 *   --no-clone-check         skip booting a second machine from the promoted image
 *   --bake-var <key=value>   extra Packer variable for this bake (repeatable)
 *   --image-file <qcow2>     skip the bake: run the rest of the pipeline on this disk image (a copy
 *                            is registered as the candidate; local only, e.g. to re-test an image).
 *                            The probe is the one installed in that disk by its bake (its checks.d)
 *   --summary-json <file>    also write the run summary as JSON
 *
 * The image definition is `--image`, else the one the pipeline's entry in `PIPELINES` names (same
 * format as the stage parameter `pipelines`:
 * `pipeline=[imageDefinition@]{baseImage|pipeline:<parent>[/<channel>]}[:channel],…`; the
 * definition and a parent are taken from it), else the definition named like the pipeline. The
 * parent is `--parent`, else the entry's `pipeline:` source, else none (a full bake).
 *
 * Architectures (`local/architectures.ts` `chooseArchitectures`): `ARCHITECTURES` declares them, in
 * the syntax of the stage parameter `architectures` (`web=x86_64+arm64`); when it is unset,
 * `--architecture` is the run's declaration. Several architectures run one after the other, each
 * printing its summary; `--summary-json` then writes an array of the summaries.
 *
 * Exit status: 0 when the execution succeeded (and the clone check ran and passed), 1 when it failed
 * or the clone check failed or could not run (`exitStatus` in local/summary.ts; with several
 * architectures, the worst of them), 130 when interrupted (Ctrl-C), 2 on bad arguments (and on
 * arm64 without the opt-in). Slack: set SLACK_WEBHOOK_URL to also post
 * the pipeline report there.
 */
import '#local/compat.js';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Architecture, ArchitectureSettings } from '#commons/core/architectures.js';
import { SlackWebhookNotifier } from '#commons/slack/webhook-notifier.js';
import { assertLocalArchitecture, chooseArchitectures, localArchitectures } from '#local/architectures.js';
import { type LocalRunSummary, runLocalFactory } from '#local/factory.js';
import { chooseImageDefinition, chooseParent } from '#local/image-definitions.js';
import { exitStatus, renderSummary } from '#local/summary.js';

const usage =
  'usage: npm run factory -- [--pipeline web] [--image <definition>] [--channel stable] [--base-image debian-12 | --parent <pipeline>[/<channel>]] [--architecture x86_64|arm64] …';

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    process.stderr.write(`factory: ${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  const { values } = parsed;
  const pipeline = values.pipeline ?? 'web';
  let imageDefinition: string;
  let parent: { pipeline: string; channel: string } | undefined;
  let architectures: readonly Architecture[];
  let declaredArchitectures: ArchitectureSettings;
  const enabledArchitectures = localArchitectures(process.env);
  try {
    imageDefinition = await chooseImageDefinition(pipeline, values.image, process.env.PIPELINES);
    parent = chooseParent(pipeline, values.parent, process.env.PIPELINES);
    ({ architectures, settings: declaredArchitectures } = chooseArchitectures(
      pipeline,
      values.architecture,
      process.env.ARCHITECTURES,
    ));
    // Before anything runs: an x86_64 bake must not run first only for arm64 to be refused after it.
    for (const architecture of architectures) assertLocalArchitecture(architecture, enabledArchitectures);
  } catch (error) {
    process.stderr.write(`factory: ${(error as Error).message}\n`);
    return 2;
  }
  const number = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const result = Number(value);
    if (!Number.isInteger(result) || result < 0)
      throw new Error(`--${name} must be a whole number ≥ 0, got ${value}`);
    return result;
  };
  const bakeVars: Record<string, string> = {};
  for (const entry of values['bake-var'] ?? []) {
    const at = entry.indexOf('=');
    if (at < 1) {
      process.stderr.write(`factory: --bake-var must be key=value, got ${entry}\n`);
      return 2;
    }
    bakeVars[entry.slice(0, at)] = entry.slice(at + 1);
  }
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nfactory: ${signal}: stopping the execution and cleaning up…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const slackUrl = process.env.SLACK_WEBHOOK_URL;
  const summaries: LocalRunSummary[] = [];
  let code = 0;
  for (const architecture of architectures) {
    if (interrupted) break;
    if (architectures.length > 1) process.stdout.write(`▶ architecture ${architecture}\n`);
    let summary: LocalRunSummary;
    try {
      summary = await runLocalFactory({
        pipeline,
        architecture,
        declaredArchitectures,
        enabledArchitectures,
        imageDefinition,
        channel: values.channel ?? 'stable',
        baseImage: values['base-image'] ?? 'debian-12',
        ...(parent ? { parent } : {}),
        stateDir: values['state-dir'] ?? '.factory',
        retention: {
          maxAgeDays: number('retention-days', values['retention-days'], 30),
          keepLatest: number('retention-keep', values['retention-keep'], 3),
          dryRun: values['retention-dry-run'] ?? false,
        },
        cloneCheck: !(values['no-clone-check'] ?? false),
        bakeVars,
        ...(values['image-file'] ? { imageFile: values['image-file'] } : {}),
        signal: controller.signal,
        ...(slackUrl ? { notifier: new SlackWebhookNotifier(async () => slackUrl) } : {}),
      });
    } catch (error) {
      process.stderr.write(`factory: ${(error as Error).message}\n`);
      code = Math.max(code, interrupted ? 130 : 1);
      continue;
    }
    process.stdout.write(renderSummary(summary));
    summaries.push(summary);
    code = Math.max(code, exitStatus(summary, interrupted));
  }
  if (values['summary-json']) {
    const json = architectures.length > 1 ? summaries : summaries[0];
    if (json !== undefined) await writeFile(values['summary-json'], `${JSON.stringify(json, null, 2)}\n`);
  }
  return code;
}

function parse() {
  return parseArgs({
    options: {
      pipeline: { type: 'string' },
      image: { type: 'string' },
      channel: { type: 'string' },
      'base-image': { type: 'string' },
      architecture: { type: 'string' },
      parent: { type: 'string' },
      'state-dir': { type: 'string' },
      'retention-days': { type: 'string' },
      'retention-keep': { type: 'string' },
      'retention-dry-run': { type: 'boolean' },
      'no-clone-check': { type: 'boolean' },
      'bake-var': { type: 'string', multiple: true },
      'image-file': { type: 'string' },
      'summary-json': { type: 'string' },
    },
    allowPositionals: false,
    strict: true,
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`factory: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
