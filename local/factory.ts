import '#local/compat.js';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import type { z } from 'zod';
import { executionName as deterministicExecutionName } from '#commons/core/build-key.js';
import type { Notifier, SourceImage } from '#commons/ports.js';
import {
  AcquirePromotionLeaseInput,
  ApplyRetentionInput,
  CheckInstanceOnlineInput,
  CheckProbeResultInput,
  CleanupAfterFailureInput,
  ExecutionInput,
  FindCandidateImageInput,
  LaunchTestInstanceInput,
  NotifyFailureInput,
  NotifySuccessInput,
  PrepareBuildInput,
  ProbeTestInstanceInput,
  PromoteImageInput,
  parseOrThrow,
  ReleasePromotionLeaseInput,
  TerminateTestInstanceInput,
} from '#commons/schemas.js';
import { acquirePromotionLease } from '#commons/steps/acquire-promotion-lease.js';
import { applyRetention } from '#commons/steps/apply-retention.js';
import { checkInstanceOnline } from '#commons/steps/check-instance-online.js';
import { checkProbeResult } from '#commons/steps/check-probe-result.js';
import { cleanupAfterFailure } from '#commons/steps/cleanup-after-failure.js';
import { findCandidateImage } from '#commons/steps/find-candidate-image.js';
import { launchTestInstance } from '#commons/steps/launch-test-instance.js';
import { notifyFailure } from '#commons/steps/notify-failure.js';
import { notifySuccess } from '#commons/steps/notify-success.js';
import { prepareBuild } from '#commons/steps/prepare-build.js';
import { probeTestInstance } from '#commons/steps/probe-test-instance.js';
import { promoteImage } from '#commons/steps/promote-image.js';
import { releasePromotionLease } from '#commons/steps/release-promotion-lease.js';
import { terminateTestInstance } from '#commons/steps/terminate-test-instance.js';
import { bakeLocally, importLocally, type RunTaskRequest } from '#local/bake.js';
import { FileChannelPointer, LocalCatalog, LocalImageStore } from '#local/catalog.js';
import { GuestAgentCommandRunner, QemuMachineLauncher } from '#local/machines.js';
import { PROJECT_ROOT } from '#local/process.js';
import { FilePromotionLedger } from '#local/promotion-ledger.js';
import { guestShell, waitForAgent } from '#local/qemu/guest-agent.js';
import { ensureSshKeyPair } from '#local/qemu/ssh.js';
import { reapVms } from '#local/qemu/vm.js';
import { LocalBaseImageResolver, TerminalNotifier } from '#local/sources.js';
import { loadDefinition } from '#statemachines/definition.js';

/** A JSON value as aws-local-stepfunctions passes it to and from Task handlers. */
type JSONValue = Parameters<StateMachine['run']>[0];

/** Path of the probe suite inside every image (installed by the Packer template). */
export const PROBE_PATH = '/usr/local/libexec/image-factory/probe.sh';

export interface LocalFactoryOptions {
  pipeline: string;
  channel: string;
  /** What to bake (`core/image-definitions.ts`); default: the definition named like the pipeline. */
  imageDefinition?: string;
  /** Only `debian-12` runs locally. */
  baseImage: string;
  /** State directory: catalog, VMs, build work dirs (default `.factory`). */
  stateDir: string;
  retention: { maxAgeDays: number; keepLatest: number; dryRun: boolean };
  /** Seconds the probe suite may run on the test machine. */
  probeTimeoutSeconds: number;
  /** Seconds between polls of the probe's Wait state (the ASL's 15 s are meant for AWS). */
  pollSeconds: number;
  /**
   * Seconds between online checks (WaitForInstanceOnline). A TCG boot takes 30–60 s on an idle
   * 2-core machine and several minutes on a busy or slower one; the ASL's attempt bound times this
   * interval is how long a boot may take, so it is longer than the probe's.
   */
  onlinePollSeconds: number;
  /** Polls before InstanceNeverOnline / ProbeTimedOut. */
  onlineMaxAttempts: number;
  probeMaxAttempts: number;
  /** Boot a second machine from the promoted image and compare identities. */
  cloneCheck: boolean;
  /** Extra Packer `-var`s for this bake (e.g. to bake a deliberately broken image in tests). */
  bakeVars?: Record<string, string>;
  /** Skip the bake: BakeImage registers this qcow2 as the build's image (see `importLocally`). */
  imageFile?: string;
  /** Forwarded after the terminal (e.g. Slack when configured). */
  notifier?: Notifier;
  /** Progress output (default: stdout). */
  write?: (text: string) => void;
  signal?: AbortSignal;
}

export interface StateTiming {
  state: string;
  /** Wall time in seconds, summed over every entry of the state (poll loops enter it often). */
  seconds: number;
  entries: number;
}

export interface LocalRunSummary {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  executionName: string;
  /** The execution's final document (JSONPath state) or, when it failed, the failure. */
  output?: Record<string, unknown>;
  error?: { Error: string; Cause: string };
  statesVisited: string[];
  timings: StateTiming[];
  /** Seconds from the start (base image included) to the end of the execution, clone check excluded. */
  executionSeconds: number;
  /** Seconds of the whole run, clone check included. */
  totalSeconds: number;
  clone?: { identical: string[]; first: Identity; second: Identity };
  sourceImage?: SourceImage;
  imagePath?: string;
  /** The bake's work directory: packer.log, ansible-junit/ (read by bench/bake-profile.ts). */
  bakeDir?: string;
}

/** Machine identity compared between two machines of one image (clones must differ). */
export interface Identity {
  machineId: string;
  hostKeys: string;
}

const defaults = (stateDir: string): Omit<LocalFactoryOptions, 'pipeline' | 'channel' | 'baseImage'> => ({
  stateDir,
  retention: { maxAgeDays: 30, keepLatest: 3, dryRun: false },
  probeTimeoutSeconds: 600,
  pollSeconds: 5,
  onlinePollSeconds: 10,
  onlineMaxAttempts: 72,
  probeMaxAttempts: 180,
  cloneCheck: true,
});

/**
 * Runs the pipeline locally: `statemachines/image-factory.asl.yaml` executed by
 * aws-local-stepfunctions, each Task state served by the same step function the Lambda calls
 * (functions/commons/steps), with local ports: Packer's qemu source for the bake, qemu VMs for test
 * machines, the guest agent for the probe, the file catalog for images and channels, the terminal
 * (and Slack when configured) for notifications.
 *
 * Never leaves a VM running: every VM of the state directory is reaped on the way out, whatever
 * the outcome (also on abort).
 * @returns the run summary; it does not throw for a failed execution (status FAILED).
 */
export async function runLocalFactory(
  input: Pick<LocalFactoryOptions, 'pipeline' | 'channel' | 'baseImage'> & Partial<LocalFactoryOptions>,
): Promise<LocalRunSummary> {
  const options: LocalFactoryOptions = { ...defaults(input.stateDir ?? '.factory'), ...input };
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const stateDir = path.resolve(PROJECT_ROOT, options.stateDir);
  const vmDir = path.join(stateDir, 'vm');
  await mkdir(vmDir, { recursive: true });
  const catalog = new LocalCatalog(path.join(stateDir, 'catalog'));
  const keys = await ensureSshKeyPair(path.join(stateDir, 'keys'), 'launch-key');
  const launcher = new QemuMachineLauncher(catalog, { workDir: vmDir, sshPublicKey: keys.publicKey });
  const images = new LocalImageStore(catalog, (ids) => launcher.imagesInUse(ids));
  const pointer = new FileChannelPointer(catalog);
  // One promotion at a time per (pipeline, channel), also across concurrent local runs.
  const ledger = new FilePromotionLedger(path.join(stateDir, 'catalog'));
  const runner = new GuestAgentCommandRunner(launcher, { path: PROBE_PATH, args: ['--backend', 'local'] });
  const notifier = new TerminalNotifier(write, options.notifier);
  const progress = (line: string): void => write(`    │ ${line}\n`);
  const sources = new LocalBaseImageResolver({ onLine: progress, ...signalOf(options) });

  const started = Date.now();
  // The runner plays the trigger: resolve the base image, then name the execution the way the
  // AWS triggers do (pipeline, source image, commit), so reruns of one input share a build id.
  const request = parseOrThrow(ExecutionInput, {
    pipeline: options.pipeline,
    channel: options.channel,
    baseImage: options.baseImage,
    trigger: 'manual',
    ...(options.imageDefinition ? { imageDefinition: options.imageDefinition } : {}),
    ...commitOf(),
  });
  write(`▶ base image ${request.baseImage}: building or reusing the local base image\n`);
  const source = await sources.resolve(request.baseImage);
  const name = deterministicExecutionName({
    pipeline: request.pipeline,
    sourceImageId: source.imageId,
    commit: request.commit,
  });
  const executionInput = { ...request, sourceImageId: source.imageId };
  let identity: Identity | undefined;

  const task =
    <S extends z.ZodType>(schema: S, step: (parsed: z.output<S>) => Promise<unknown>) =>
    async (raw: JSONValue): Promise<JSONValue> =>
      (await step(parseOrThrow(schema, raw))) as JSONValue;

  const handlers: Record<string, (raw: JSONValue) => Promise<JSONValue>> = {
    PrepareBuild: task(PrepareBuildInput, (parsed) =>
      prepareBuild(parsed, { sources, ledger }, { probeTimeoutSeconds: options.probeTimeoutSeconds }),
    ),
    BakeImage: async (raw) => {
      const request = raw as RunTaskRequest;
      const common = {
        catalog,
        workDir: path.join(stateDir, 'builds', name),
        onLine: progress,
        ...signalOf(options),
      };
      const result = options.imageFile
        ? await importLocally(request, { ...common, file: options.imageFile })
        : await bakeLocally(request, {
            ...common,
            baseImagePath: LocalBaseImageResolver.pathOf,
            ...(options.bakeVars ? { extraVars: options.bakeVars } : {}),
          });
      return { TaskArn: result.TaskArn, LastStatus: result.LastStatus };
    },
    FindCandidateImage: task(FindCandidateImageInput, (parsed) => findCandidateImage(parsed, { images })),
    LaunchTestInstance: task(LaunchTestInstanceInput, (parsed) => launchTestInstance(parsed, { launcher })),
    CheckInstanceOnline: task(CheckInstanceOnlineInput, (parsed) =>
      checkInstanceOnline(parsed, { launcher }, { maxAttempts: options.onlineMaxAttempts }),
    ),
    ProbeTestInstance: task(ProbeTestInstanceInput, async (parsed) => {
      const probe = await probeTestInstance(parsed, { runner });
      // Local instrumentation for the clone check after promotion (not part of the verdict).
      if (options.cloneCheck) identity = await readIdentity(launcher, parsed.testInstance.instanceId);
      return probe;
    }),
    CheckProbeResult: task(CheckProbeResultInput, (parsed) =>
      checkProbeResult(parsed, { runner }, { maxAttempts: options.probeMaxAttempts }),
    ),
    TerminateTestInstance: task(TerminateTestInstanceInput, (parsed) =>
      terminateTestInstance(parsed, { launcher }),
    ),
    AcquirePromotionLease: task(AcquirePromotionLeaseInput, (parsed) =>
      acquirePromotionLease(parsed, { ledger }),
    ),
    PromoteImage: task(PromoteImageInput, (parsed) => promoteImage(parsed, { images, pointer })),
    ReleasePromotionLease: task(ReleasePromotionLeaseInput, (parsed) =>
      releasePromotionLease(parsed, { ledger }),
    ),
    ApplyRetention: task(ApplyRetentionInput, (parsed) =>
      applyRetention(parsed, { images, pointer }, options.retention),
    ),
    NotifySuccess: task(NotifySuccessInput, (parsed) => notifySuccess(parsed, { notifier })),
    CleanupAfterFailure: task(CleanupAfterFailureInput, (parsed) =>
      cleanupAfterFailure(parsed, { launcher, images, pointer, ledger }),
    ),
    NotifyFailure: task(NotifyFailureInput, (parsed) => notifyFailure(parsed, { notifier })),
    OpenIncident: async () => {
      throw new Error('Incident Manager is not available on the local backend');
    },
  };

  // A Task handler still running when the execution is aborted (Ctrl-C) or times out goes on in
  // the background (aws-local-stepfunctions does not cancel it): track every call so that the run
  // waits for them (Packer cleaning up its VM, a launch finishing) before it reaps VMs and returns.
  const inFlight = new Set<Promise<JSONValue>>();
  for (const [state, handler] of Object.entries(handlers)) {
    handlers[state] = (raw) => {
      const call = handler(raw);
      inFlight.add(call);
      void call.then(
        () => inFlight.delete(call),
        () => inFlight.delete(call),
      );
      return call;
    };
  }

  const stateMachine = new StateMachine(loadDefinition({ stage: 'local' }));
  const waits = {
    // Sized for an EC2 boot; a local VM is polled from the start, as before the wait existed.
    WaitForInstanceBoot: 0,
    WaitForInstanceOnline: options.onlinePollSeconds * 1000,
    WaitForProbe: options.pollSeconds * 1000,
  };
  const execution = stateMachine.run(executionInput as JSONValue, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits },
    context: {
      Execution: {
        Id: `arn:aws:states:local:000000000000:execution:image-factory:${name}`,
        Name: name,
        StartTime: new Date(started).toISOString(),
        Input: executionInput as JSONValue,
        RoleArn: 'arn:aws:iam::000000000000:role/local',
      },
    } as never,
    noThrowOnAbort: true,
  });
  const onAbort = (): void => execution.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const visited: string[] = [];
  const timings = new Map<string, StateTiming>();
  const enteredAt = new Map<string, number>();
  let failure: { Error: string; Cause: string } | undefined;
  // The document the last state received: after a failure, what the execution knew (candidate, error).
  let lastDocument: Record<string, unknown> | undefined;
  const consume = (async () => {
    for await (const event of execution.eventLogs) {
      const elapsed = ((event.timestamp - started) / 1000).toFixed(1).padStart(7);
      if (event.type === 'StateEntered') {
        enteredAt.set(event.state.name, event.timestamp);
        lastDocument = event.state.input as Record<string, unknown>;
        visited.push(event.state.name);
        if (event.state.type === 'Task') write(`[${elapsed} s] ▶ ${event.state.name}\n`);
      } else if (event.type === 'StateExited' || event.type === 'StateFailed') {
        const from = enteredAt.get(event.state.name) ?? event.timestamp;
        const timing = timings.get(event.state.name) ?? { state: event.state.name, seconds: 0, entries: 0 };
        timing.seconds += (event.timestamp - from) / 1000;
        timing.entries += 1;
        timings.set(event.state.name, timing);
        if (event.type === 'StateFailed') {
          write(`[${elapsed} s] ✘ ${event.state.name}: ${event.Error} ${String(event.Cause ?? '')}\n`);
        } else if (event.state.type === 'Task') {
          write(`[${elapsed} s] ✔ ${event.state.name} (${((event.timestamp - from) / 1000).toFixed(1)} s)\n`);
        }
      } else if (event.type === 'StateRetried') {
        write(`[${elapsed} s] ↻ ${event.state.name} retry ${event.retry.attempt}\n`);
      } else if (event.type === 'ExecutionFailed') {
        failure = { Error: event.Error, Cause: String(event.Cause ?? '') };
      }
    }
  })();

  let status: LocalRunSummary['status'] = 'SUCCEEDED';
  let output: Record<string, unknown> | undefined;
  try {
    output = (await execution.result) as Record<string, unknown> | undefined;
    if (output === null || options.signal?.aborted) status = 'ABORTED';
  } catch (error) {
    status = 'FAILED';
    failure ??= { Error: (error as Error).name, Cause: (error as Error).message };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await consume.catch(() => {});
    await Promise.allSettled([...inFlight]);
    // Whatever happened, no VM of this state directory outlives the run.
    await reapVms(vmDir, { graceSeconds: 3 });
  }
  if (status !== 'SUCCEEDED') output = lastDocument;
  const executionSeconds = (Date.now() - started) / 1000;

  const summary: LocalRunSummary = {
    status,
    executionName: name,
    statesVisited: visited,
    timings: [...timings.values()],
    executionSeconds,
    totalSeconds: 0,
    sourceImage: source,
    bakeDir: path.join(stateDir, 'builds', name),
    ...(output ? { output } : {}),
    ...(failure ? { error: failure } : {}),
  };
  // A superseded build promoted nothing: its candidate was retired, so there is no image to show.
  const promotion = output?.promotion as { imageId?: string; outcome?: string } | undefined;
  const promoted = promotion?.outcome === 'superseded' ? undefined : promotion?.imageId;
  if (promoted) summary.imagePath = catalog.diskPath(promoted);
  if (status === 'SUCCEEDED' && options.cloneCheck && promoted && identity) {
    write('▶ clone check: booting a second machine from the promoted image\n');
    const second = await bootAndReadIdentity(launcher, promoted, name);
    summary.clone = { first: identity, second, identical: sameIdentity(identity, second) };
  }
  summary.totalSeconds = (Date.now() - started) / 1000;
  return summary;
}

/** Fields two machines of one image share but must not (machine-id, host keys). Pure. */
export function sameIdentity(first: Identity, second: Identity): string[] {
  const same: string[] = [];
  if (!first.machineId || first.machineId === second.machineId) same.push('machine-id');
  if (!first.hostKeys || first.hostKeys === second.hostKeys) same.push('ssh-host-keys');
  return same;
}

async function readIdentity(launcher: QemuMachineLauncher, instanceId: string): Promise<Identity> {
  const vm = await launcher.vm(instanceId);
  const result = await guestShell(
    vm.qgaSocket,
    'cat /etc/machine-id; for key in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$key"; done',
    { timeoutSeconds: 60 },
  );
  const [machineId = '', ...keys] = result.stdout.trim().split('\n');
  return { machineId: machineId.trim(), hostKeys: keys.join('\n') };
}

async function bootAndReadIdentity(
  launcher: QemuMachineLauncher,
  imageId: string,
  executionName: string,
): Promise<Identity> {
  const { instanceId } = await launcher.launch({
    imageId,
    pipeline: 'clone-check',
    buildId: `${executionName}-clone`,
    executionName,
    idempotencyToken: `${executionName}-clone`,
  });
  try {
    const vm = await launcher.vm(instanceId);
    await waitForAgent(vm.qgaSocket, 360);
    // Host keys appear once cloud-init/ssh finished first boot.
    await guestShell(vm.qgaSocket, 'cloud-init status --wait >/dev/null 2>&1 || true', {
      timeoutSeconds: 360,
    });
    return await readIdentity(launcher, instanceId);
  } finally {
    await launcher.terminate([instanceId]);
  }
}

/** The image definition's commit (git HEAD), when the project is a git checkout with commits. */
function commitOf(): { commit?: string } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    return /^[0-9a-f]{40}$/.test(commit) ? { commit } : {};
  } catch {
    return {};
  }
}

function signalOf(options: { signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}
