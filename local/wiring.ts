/**
 * Local wiring: the local backend's port instances on one state directory (the counterpart of
 * `functions/commons/aws/wiring.ts`): the file catalog for images and channels, qemu VMs for test
 * machines, the guest agent for the probe, the terminal (and Slack when configured) for reports,
 * the catalog's event log for the events.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Architecture } from '#commons/core/architectures.js';
import type { Notifier } from '#commons/ports.js';
import { FileChannelPointer, LocalCatalog, LocalImageStore } from '#local/catalog.js';
import { FileEventLog } from '#local/event-log.js';
import { GuestAgentCommandRunner, QemuMachineLauncher } from '#local/machines.js';
import { LocalExecutionHistory } from '#local/observe.js';
import { PROJECT_ROOT } from '#local/process.js';
import { FilePromotionLedger } from '#local/promotion-ledger.js';
import { ensureSshKeyPair } from '#local/qemu/ssh.js';
import { FileSbomStore, NoVulnerabilityScanner } from '#local/sbom.js';
import { LocalBaseImageResolver, TerminalNotifier } from '#local/sources.js';

/** Path of the probe suite inside every image (installed by the Packer template). */
export const PROBE_PATH = '/usr/local/libexec/image-factory/probe.sh';

/** The ports the steps get locally. */
export interface LocalPorts {
  readonly sources: LocalBaseImageResolver;
  readonly images: LocalImageStore;
  readonly pointer: FileChannelPointer;
  /** One promotion at a time per (pipeline, channel), also across concurrent local runs. */
  readonly ledger: FilePromotionLedger;
  readonly launcher: QemuMachineLauncher;
  readonly runner: GuestAgentCommandRunner;
  readonly notifier: TerminalNotifier;
  /** The factory's events, appended to `<catalog>/events.jsonl`. */
  readonly events: FileEventLog;
  /** The runs of the execution in progress (fed by its event log), for the reports' time per state. */
  readonly history: LocalExecutionHistory;
  /** The images' SBOMs in the catalog (`file://` URIs inside it only). */
  readonly sboms: FileSbomStore;
  /** No vulnerability database locally: the gate says so and passes. */
  readonly scanner: NoVulnerabilityScanner;
}

/** The ports and where they keep their state. */
export interface LocalWiring {
  readonly ports: LocalPorts;
  readonly catalog: LocalCatalog;
  /** Absolute state directory. */
  readonly stateDir: string;
  /** VM directory (every VM of the run lives here; reaped at the end). */
  readonly vmDir: string;
  /** Prints one line of tool output (base image build, bake) under the current state. */
  readonly progress: (line: string) => void;
}

/**
 * Creates the state directory layout (`vm/`, `catalog/`, `keys/`) and the ports on it.
 * @param options.stateDir state directory, relative to the project root or absolute.
 * @param options.write progress output; `options.notifier` gets reports after the terminal.
 * @throws what creating the directories or the SSH key pair throws.
 */
export async function wireLocalPorts(options: {
  stateDir: string;
  write: (text: string) => void;
  notifier?: Notifier | undefined;
  signal?: AbortSignal | undefined;
  /** Seconds one online check may wait for the guest agent (see `QemuMachineLauncher`); default 0. */
  onlinePollSeconds?: number;
  /** Seconds one probe read may wait for the probe to finish (see `GuestAgentCommandRunner`); default 0. */
  pollSeconds?: number;
  /** The architectures the source resolver builds base images of (default x86_64 only). */
  enabledArchitectures?: readonly Architecture[] | undefined;
}): Promise<LocalWiring> {
  const stateDir = path.resolve(PROJECT_ROOT, options.stateDir);
  const vmDir = path.join(stateDir, 'vm');
  await mkdir(vmDir, { recursive: true });
  const catalog = new LocalCatalog(path.join(stateDir, 'catalog'));
  const keys = await ensureSshKeyPair(path.join(stateDir, 'keys'), 'launch-key');
  const launcher = new QemuMachineLauncher(catalog, {
    workDir: vmDir,
    sshPublicKey: keys.publicKey,
    readinessWaitSeconds: options.onlinePollSeconds ?? 0,
  });
  const progress = (line: string): void => options.write(`    │ ${line}\n`);
  const ports: LocalPorts = {
    sources: new LocalBaseImageResolver({
      onLine: progress,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.enabledArchitectures ? { architectures: options.enabledArchitectures } : {}),
    }),
    images: new LocalImageStore(catalog, (ids) => launcher.imagesInUse(ids)),
    pointer: new FileChannelPointer(catalog),
    ledger: new FilePromotionLedger(path.join(stateDir, 'catalog')),
    launcher,
    runner: new GuestAgentCommandRunner(
      launcher,
      { path: PROBE_PATH, args: ['--backend', 'local'] },
      options.pollSeconds ?? 0,
    ),
    notifier: new TerminalNotifier(options.write, options.notifier),
    events: new FileEventLog(catalog.root),
    history: new LocalExecutionHistory(),
    sboms: new FileSbomStore(catalog.root),
    scanner: new NoVulnerabilityScanner(),
  };
  return { ports, catalog, stateDir, vmDir, progress };
}
