/**
 * MotoGapProxy: an HTTP front for moto server that fills the gaps listed in MOTO-GAPS.md.
 *
 * Every request is forwarded to moto unchanged, except these, which the proxy answers itself the
 * way AWS documents them (each one is a named, test-controlled double):
 *
 * - {@link PublicParameterPublisher}: SSM `GetParameter(s)` / `GetParametersByPath` for public
 *   `/aws/service/...` parameters a test published (moto refuses `PutParameter` under `/aws/` and
 *   has no Canonical/Debian parameters);
 * - {@link SsmAgentDouble}: SSM `DescribeInstanceInformation` (not implemented in moto) and the
 *   status/output of `GetCommandInvocation` (moto always says `Success` with empty output);
 * - {@link IncidentManagerDouble}: SSM Incident Manager `StartIncident` (no moto backend);
 * - `ImageReferencesDouble`: EC2 `DescribeImageReferences` (not implemented), answered from moto's
 *   own state for the requested `ResourceTypes` (or all with `IncludeAllResourceTypes`): live
 *   instances (`ec2:Instance`), the `$Default` / `$Latest` versions of launch templates
 *   (`ec2:LaunchTemplate`, the versions AWS checks), and SSM parameters whose value is the image id
 *   (`ssm:Parameter`; the AWS documentation does not say whether only `aws:ec2:image` parameters
 *   count, so the double counts every parameter: the direction that keeps more images);
 * - `DescribeImagesOfOwnersDouble`: EC2 `DescribeImages` with `ImageIds` and `Owners` answers only
 *   the images of those owners, as AWS does (moto ignores `Owners` when ids are given);
 * - `EbsRootDeviceDouble`: EC2 `DescribeImages` reports the images moto registered itself with the
 *   root device type `ebs` (moto says `standard`, which AWS never answers);
 * - `DeregisterWithSnapshotsDouble`: EC2 `DeregisterImage` with `DeleteAssociatedSnapshots`
 *   (moto ignores the flag), forwarded and then completed by deleting the snapshots in moto;
 * - `CreateImageSnapshotTagsDouble`: EC2 `CreateImage` with a `snapshot` tag specification (moto
 *   raises NotImplementedError, HTTP 500): forwarded without it, then the new image's snapshots
 *   are tagged in moto, which is what AWS does at creation;
 * - `SecurityGroupInUseDouble`: EC2 `DeleteSecurityGroup` of a group a live (not terminated)
 *   instance uses answers `DependencyViolation`, as AWS does
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html); moto
 *   deletes it anyway;
 * - `PutEventsEntryChecksDouble`: EventBridge `PutEvents` entries AWS fails one by one (HTTP 200,
 *   `FailedEntryCount`): a `Source` with the reserved `aws.` prefix (`NotAuthorizedForSourceException`)
 *   and a `Detail` that is not a JSON object (`MalformedDetail`); moto accepts both. The other
 *   entries are forwarded to moto, and the answer merges both in request order;
 * - {@link InstanceRefreshDouble}: EC2 Auto Scaling `StartInstanceRefresh` and
 *   `DescribeInstanceRefreshes` (not implemented in moto: HTTP 500), answered for the groups moto
 *   holds: a group that does not exist is refused (`ValidationError`), so is `MaxHealthyPercentage`
 *   without `MinHealthyPercentage` or more than 100 above it
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html), and a
 *   group with an active refresh answers `InstanceRefreshInProgress`
 *   (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_StartInstanceRefresh.html). A
 *   test ends a refresh with {@link InstanceRefreshDouble.finish};
 * - {@link ExecutionOutcomeDouble}: Step Functions `DescribeExecution` of an execution a test ended
 *   (moto's executions stay RUNNING unless stopped): moto's answer with the status and stop date
 *   the test gave (FAILED, TIMED_OUT, SUCCEEDED). Unknown executions still get moto's
 *   `ExecutionDoesNotExist`.
 *
 * Before anything else every request is validated against the AWS service model
 * ({@link RequestValidator}, botocore's models): a request AWS would refuse is refused here the same
 * way (HTTP 400) and never reaches moto or a double.
 *
 * A {@link FaultInjector} can make any call fail with an AWS error, to exercise error handling.
 *
 * The handlers under test keep their real SDK clients and port implementations; only
 * `AWS_ENDPOINT_URL` points here. Listens on 127.0.0.1 only.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeTagsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetParametersCommand, paginateDescribeParameters, SSMClient } from '@aws-sdk/client-ssm';
import type { Decision, IamAuthorizer } from '../iam/authorizer.js';
import { DUMMY_AWS_ENV, MOTO_ACCOUNT_ID, TEST_REGION } from '../moto.js';
import { RequestValidator } from './service-model.js';

/**
 * Which stack role makes the calls of the current async context ({@link MotoGapProxy.runAs}). A
 * client hooked with {@link attributeCallsToRole} sends it in {@link ROLE_HEADER}, so calls of
 * concurrent invocations of different roles are each evaluated as their own role.
 */
const acting = new AsyncLocalStorage<string>();
/** Request header naming the calling role (stripped before moto sees the request). */
export const ROLE_HEADER = 'x-factory-test-role';

/** The part of an SDK v3 client {@link attributeCallsToRole} needs. */
interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { request: unknown }) => Promise<unknown>,
      ) => (args: { request: unknown }) => Promise<unknown>,
      options: { step: 'build'; name: string },
    ): void;
  };
}

const hooked = new WeakSet<object>();

/**
 * Make an SDK client name the acting role in each request it sends (a `build` step middleware).
 * Idempotent per client.
 */
export const attributeCallsToRole = (client: MiddlewareClient): void => {
  if (hooked.has(client)) return;
  hooked.add(client);
  client.middlewareStack.add(
    (next) => async (args) => {
      const role = acting.getStore();
      const request = args.request as { headers?: Record<string, string> };
      if (role && request.headers) request.headers[ROLE_HEADER] = role;
      return next(args);
    },
    { step: 'build', name: 'factoryTestRoleAttribution' },
  );
};

/** One request seen by the proxy (forwarded or answered). */
export interface SeenOperation {
  service: string;
  operation: string;
  /** Parsed request: JSON body for JSON protocols, form fields for the EC2 Query protocol. */
  input: Record<string, unknown>;
  answeredBy: 'moto' | 'double' | 'fault' | 'validator' | 'iam';
  /** The stack role the call ran as (undefined: a test's own raw call, not evaluated). */
  role?: string;
}

/** An error the proxy returns instead of forwarding, for requests that match (see {@link FaultInjector}). */
export interface Fault {
  service: string;
  operation: string;
  /** Only requests whose parsed input satisfies this (default: every request of the operation). */
  when?: (input: Record<string, unknown>) => boolean;
  /** HTTP status and AWS error code, e.g. 403 `UnauthorizedOperation`. */
  status: number;
  code: string;
  message?: string;
  /** How many matching requests fail (default: all). */
  times?: number;
}

/** A fault armed on the n-th request ({@link FaultInjector.failCall}). */
interface NthFault {
  call: number;
  seen: number;
  status: number;
  code: string;
  /** `service:operation` of the request that failed. */
  failed?: string;
}

/** Makes chosen AWS calls fail the way AWS reports errors, to exercise error handling. */
export class FaultInjector {
  readonly #faults: Array<Fault & { remaining: number }> = [];
  #nth: NthFault | undefined;

  add(fault: Fault): void {
    this.#faults.push({ ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY });
  }

  /**
   * Fail the `call`-th request (1-based, any service) from now on with `status` / `code`, once.
   * @returns a reader of `service:operation` of the request that failed (undefined until then).
   */
  failCall(call: number, status: number, code: string): () => string | undefined {
    const armed: NthFault = { call, seen: 0, status, code };
    this.#nth = armed;
    return () => armed.failed;
  }

  clear(): void {
    this.#faults.length = 0;
    this.#nth = undefined;
  }

  /** The fault to apply to this request, if any (consumes one of its `times`). */
  take(service: string, operation: string, input: Record<string, unknown>): Fault | undefined {
    const nth = this.#nth;
    if (nth !== undefined) {
      nth.seen += 1;
      if (nth.seen === nth.call) {
        nth.failed = `${service}:${operation}`;
        this.#nth = undefined;
        return { service, operation, status: nth.status, code: nth.code };
      }
    }
    const fault = this.#faults.find(
      (f) =>
        f.remaining > 0 && f.service === service && f.operation === operation && (f.when?.(input) ?? true),
    );
    if (fault) fault.remaining -= 1;
    return fault;
  }
}

interface PublishedVersion {
  value: string;
  version: number;
  lastModified: Date;
}

/** Plays the vendor that publishes `/aws/service/...` parameters (moto reserves the prefix). */
export class PublicParameterPublisher {
  readonly #versions = new Map<string, PublishedVersion[]>();

  /** Publish a new value (a new version) of a public parameter. */
  publish(name: string, value: string): void {
    const versions = this.#versions.get(name) ?? [];
    versions.push({ value, version: versions.length + 1, lastModified: new Date() });
    this.#versions.set(name, versions);
  }

  /** Forget every published parameter (they then come from moto again). */
  clear(): void {
    this.#versions.clear();
  }

  /** The parameter as SSM's JSON API returns it, or undefined when not published here. */
  lookup(nameWithSelector: string): Record<string, unknown> | undefined {
    const [name, selector] = splitSelector(nameWithSelector);
    const versions = this.#versions.get(name);
    if (versions === undefined) return undefined;
    const chosen =
      selector === undefined ? versions.at(-1) : versions.find((v) => String(v.version) === selector);
    if (chosen === undefined) return undefined;
    return {
      Name: name,
      Type: 'String',
      Value: chosen.value,
      Version: chosen.version,
      LastModifiedDate: chosen.lastModified.getTime() / 1000,
      ARN: `arn:aws:ssm:${TEST_REGION}::parameter${name}`,
      DataType: 'text',
      ...(selector === undefined ? {} : { Selector: `:${selector}` }),
    };
  }

  /** Published names under `path` (one level, or all levels when `recursive`). */
  namesUnder(path: string, recursive: boolean): string[] {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    return [...this.#versions.keys()].filter(
      (name) => name.startsWith(prefix) && (recursive || !name.slice(prefix.length).includes('/')),
    );
  }
}

const splitSelector = (name: string): [string, string | undefined] => {
  const at = name.lastIndexOf(':');
  return at > 0 ? [name.slice(0, at), name.slice(at + 1)] : [name, undefined];
};

/** One scripted answer of `GetCommandInvocation`; `NotYet` answers `InvocationDoesNotExist`. */
export interface ScriptedInvocation {
  status: 'NotYet' | 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut';
  stdout?: string;
  stderr?: string;
  /** Exit code of the command; default 0 for Success, 1 for Failed, -1 otherwise. */
  exitCode?: number;
}

/** Any instance. */
export const ANY_INSTANCE = '*';

/** Plays the SSM agent of the test instances: ping status and the outcome of commands. */
export class SsmAgentDouble {
  readonly #onlineAfter = new Map<string, number>();
  readonly #checks = new Map<string, number>();
  readonly #scripts = new Map<string, ScriptedInvocation[]>();
  readonly #reads = new Map<string, number>();

  /**
   * The agent of `instanceId` (or {@link ANY_INSTANCE}) reports `Online` from its `afterChecks`+1-th
   * `DescribeInstanceInformation` on (`Infinity`: never). Default for every running instance: at once.
   */
  goesOnline(instanceId: string, afterChecks: number): void {
    this.#onlineAfter.set(instanceId, afterChecks);
  }

  /** Script the answers of `GetCommandInvocation` on `instanceId`; the last step repeats. */
  scriptCommand(instanceId: string, steps: readonly ScriptedInvocation[]): void {
    if (steps.length === 0) throw new Error('a command script needs at least one step');
    this.#scripts.set(instanceId, [...steps]);
  }

  /** Number of `DescribeInstanceInformation` answers that included `instanceId`. */
  checksOf(instanceId: string): number {
    return this.#checks.get(instanceId) ?? 0;
  }

  /** Ping status for one more check of a running instance. */
  ping(instanceId: string): 'Online' | 'ConnectionLost' {
    const checks = (this.#checks.get(instanceId) ?? 0) + 1;
    this.#checks.set(instanceId, checks);
    const after = this.#onlineAfter.get(instanceId) ?? this.#onlineAfter.get(ANY_INSTANCE) ?? 0;
    return checks > after ? 'Online' : 'ConnectionLost';
  }

  /** The scripted step for the next read of (commandId, instanceId), or undefined when unscripted. */
  nextStep(commandId: string, instanceId: string): ScriptedInvocation | undefined {
    const steps = this.#scripts.get(instanceId) ?? this.#scripts.get(ANY_INSTANCE);
    if (steps === undefined) return undefined;
    const key = `${commandId}/${instanceId}`;
    const read = this.#reads.get(key) ?? 0;
    this.#reads.set(key, read + 1);
    return steps[Math.min(read, steps.length - 1)];
  }
}

/** One `StartIncident` request received. */
export interface StartedIncident {
  incidentRecordArn: string;
  responsePlanArn: string;
  title?: string;
  impact?: number;
  clientToken?: string;
  triggerDetails?: unknown;
  relatedItems?: unknown;
  /** `OPEN` until the test resolves it. */
  status: 'OPEN' | 'RESOLVED';
  /** Custom timeline events added with `CreateTimelineEvent`. */
  timeline: Array<{ eventType: string; eventData: string; clientToken?: string }>;
}

/**
 * Plays SSM Incident Manager (moto has no backend for it): `StartIncident`, `ListIncidentRecords`
 * (the `status` filter only; AWS's other filter keys are not modelled) and `CreateTimelineEvent`.
 * Record ARNs are `incident-record/<response plan name>/<id>`, as AWS names them.
 */
export class IncidentManagerDouble {
  readonly started: StartedIncident[] = [];
  #failure: { status: number; type: string; message: string } | undefined;

  /** Make `StartIncident` fail (default: `ResourceNotFoundException`, HTTP 404, not retried by the SDK). */
  failWith(
    failure = { status: 404, type: 'ResourceNotFoundException', message: 'Response plan not found' },
  ): void {
    this.#failure = failure;
  }

  get failure(): { status: number; type: string; message: string } | undefined {
    return this.#failure;
  }

  start(input: Record<string, unknown>): StartedIncident {
    const token = typeof input.clientToken === 'string' ? input.clientToken : undefined;
    const existing = token === undefined ? undefined : this.started.find((i) => i.clientToken === token);
    if (existing !== undefined) return existing;
    const plan = String(input.responsePlanArn).split('/').at(-1);
    const incident: StartedIncident = {
      incidentRecordArn: `arn:aws:ssm-incidents::${MOTO_ACCOUNT_ID}:incident-record/${plan}/${randomUUID()}`,
      status: 'OPEN',
      timeline: [],
      responsePlanArn: String(input.responsePlanArn),
      ...(typeof input.title === 'string' ? { title: input.title } : {}),
      ...(typeof input.impact === 'number' ? { impact: input.impact } : {}),
      ...(token === undefined ? {} : { clientToken: token }),
      triggerDetails: input.triggerDetails,
      relatedItems: input.relatedItems,
    };
    this.started.push(incident);
    return incident;
  }

  /** `ListIncidentRecords` summaries, honouring a `status` equals filter. */
  list(input: Record<string, unknown>): Array<Record<string, unknown>> {
    const filters =
      (input.filters as Array<{ key: string; condition: { equals?: { stringValues?: string[] } } }>) ?? [];
    const status = filters.find((f) => f.key === 'status')?.condition.equals?.stringValues;
    return this.started
      .filter((i) => status === undefined || status.includes(i.status))
      .map((i) => ({
        arn: i.incidentRecordArn,
        title: i.title,
        status: i.status,
        impact: i.impact,
        creationTime: 1_795_262_400,
        incidentRecordSource: { createdBy: 'image-factory', source: 'image-factory' },
      }));
  }

  /** `CreateTimelineEvent`: undefined when the record does not exist. */
  addEvent(input: Record<string, unknown>): StartedIncident | undefined {
    const incident = this.started.find((i) => i.incidentRecordArn === input.incidentRecordArn);
    incident?.timeline.push({
      eventType: String(input.eventType),
      eventData: String(input.eventData),
      ...(typeof input.clientToken === 'string' ? { clientToken: input.clientToken } : {}),
    });
    return incident;
  }
}

/** One instance refresh the double started (the `InstanceRefresh` shape of the API, in part). */
export interface InstanceRefreshRecord {
  region: string;
  AutoScalingGroupName: string;
  InstanceRefreshId: string;
  /** `Pending` until the test ends it ({@link InstanceRefreshDouble.finish}). */
  Status: 'Pending' | 'InProgress' | 'Successful' | 'Failed' | 'Cancelled';
  StartTime: Date;
  EndTime?: Date;
  /** The request's `Preferences` and `Strategy`, as decoded from the service model. */
  Preferences?: Record<string, unknown>;
  Strategy?: string;
}

/** The statuses of a refresh that blocks another (API_InstanceRefresh `Status`). */
const ACTIVE_REFRESH = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);

/** A finding the {@link InspectorScanDouble} reports for every component of that name. */
export interface ConfiguredFinding {
  /** CVE or advisory id. */
  id: string;
  /** CycloneDX severity (`critical`, `high`, …). */
  severity: string;
  /** The component's `name` in the scanned SBOM (`openssl`). */
  component: string;
  /** Reported as `amazon:inspector:sbom_scanner:fixed_version:<bom-ref>` when given. */
  fixedVersion?: string;
}

/**
 * Plays Amazon Inspector Scan's `ScanSbom` (`POST /scan/sbom`), which moto does not implement.
 * The proxy validates the request against botocore's `inspector-scan` model and evaluates
 * `inspector-scan:ScanSbom` as the caller's role first. Then, as the API reference states
 * (https://docs.aws.amazon.com/inspector/v2/APIReference/API_scan_ScanSbom.html): an SBOM that is
 * no CycloneDX 1.5 document or has more than 5000 components is a `ValidationException`. Only
 * `outputFormat: CYCLONE_DX_1_5` is modelled (another format fails the call, HTTP 500): the
 * report is a CycloneDX 1.5 document whose `vulnerabilities[]` are the configured findings of the
 * SBOM's components, each with `ratings[].severity`, `affects[].ref` and the fixed-version property.
 */
export class InspectorScanDouble {
  /** What the next scans find (`configure`), and the component count of each scan made. */
  #findings: ConfiguredFinding[] = [];
  readonly scans: number[] = [];

  configure(findings: readonly ConfiguredFinding[]): void {
    this.#findings = [...findings];
  }

  /** The reply to one validated, authorized request body. */
  answer(input: Record<string, unknown>): Reply {
    const sbom = input.sbom as { bomFormat?: unknown; specVersion?: unknown; components?: unknown };
    const refuse = (message: string) =>
      json(400, { message, reason: 'OTHER' }, 'application/json', {
        'x-amzn-errortype': 'ValidationException',
      });
    if (sbom?.bomFormat !== 'CycloneDX' || sbom.specVersion !== '1.5')
      return refuse('the SBOM must be a CycloneDX 1.5 document');
    const components = Array.isArray(sbom.components)
      ? (sbom.components as Array<{ 'bom-ref'?: string; name?: string; version?: string; purl?: string }>)
      : [];
    if (components.length > 5000)
      return refuse(`the SBOM has ${components.length} components; at most 5000 are scanned`);
    if ((input.outputFormat ?? 'CYCLONE_DX_1_5') !== 'CYCLONE_DX_1_5')
      throw new Error(
        `InspectorScanDouble models outputFormat CYCLONE_DX_1_5 only, got ${String(input.outputFormat)}`,
      );
    this.scans.push(components.length);
    const vulnerabilities = this.#findings.flatMap((finding, index) => {
      const affected = components.filter(
        (component) => component.name === finding.component && component['bom-ref'],
      );
      if (affected.length === 0) return [];
      return [
        {
          'bom-ref': `vuln-${index + 1}`,
          id: finding.id,
          ratings: [{ severity: finding.severity, source: { name: 'NVD' } }],
          affects: affected.map((component) => ({ ref: component['bom-ref'] })),
          properties: finding.fixedVersion
            ? affected.map((component) => ({
                name: `amazon:inspector:sbom_scanner:fixed_version:${component['bom-ref']}`,
                value: finding.fixedVersion,
              }))
            : [],
        },
      ];
    });
    return json(
      200,
      {
        sbom: {
          bomFormat: 'CycloneDX',
          specVersion: '1.5',
          version: 1,
          components: components.filter((component) =>
            vulnerabilities.some((vulnerability) =>
              vulnerability.affects.some((a) => a.ref === component['bom-ref']),
            ),
          ),
          vulnerabilities,
        },
      },
      'application/json',
    );
  }
}

/** Plays EC2 Auto Scaling's instance refreshes, which moto does not implement. */
export class InstanceRefreshDouble {
  readonly refreshes: InstanceRefreshRecord[] = [];

  /** The refreshes of a group, newest first (DescribeInstanceRefreshes' order). */
  of(region: string, group: string): InstanceRefreshRecord[] {
    return this.refreshes
      .filter((refresh) => refresh.region === region && refresh.AutoScalingGroupName === group)
      .reverse();
  }

  /** The group's active refresh, if any. */
  active(region: string, group: string): InstanceRefreshRecord | undefined {
    return this.of(region, group).find((refresh) => ACTIVE_REFRESH.has(refresh.Status));
  }

  /** End the group's active refresh (as Auto Scaling does when every instance is replaced). */
  finish(region: string, group: string, status: 'Successful' | 'Failed' | 'Cancelled' = 'Successful'): void {
    const refresh = this.active(region, group);
    if (!refresh) throw new Error(`no active refresh of ${group} in ${region}`);
    refresh.Status = status;
    refresh.EndTime = new Date();
  }
}

/** Plays the end of executions moto never runs: `DescribeExecution` reports what the test set. */
export class ExecutionOutcomeDouble {
  readonly #ended = new Map<string, { status: 'FAILED' | 'TIMED_OUT' | 'SUCCEEDED'; stopDate: Date }>();

  /** From now on `executionArn` (which must exist in moto) is reported with `status`, stopped at `stopDate`. */
  end(executionArn: string, status: 'FAILED' | 'TIMED_OUT' | 'SUCCEEDED', stopDate = new Date()): void {
    this.#ended.set(executionArn, { status, stopDate });
  }

  /** The overlay for one execution, if the test ended it. */
  outcome(executionArn: string): { status: string; stopDate: Date } | undefined {
    return this.#ended.get(executionArn);
  }
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface MotoGapProxy {
  /** `http://127.0.0.1:<port>`: give this to the handlers as `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  readonly publicParameters: PublicParameterPublisher;
  readonly ssmAgent: SsmAgentDouble;
  readonly incidents: IncidentManagerDouble;
  readonly executions: ExecutionOutcomeDouble;
  /** Instance refreshes of Auto Scaling groups (moto has none). */
  readonly instanceRefreshes: InstanceRefreshDouble;
  /** Amazon Inspector Scan's ScanSbom (moto has no inspector-scan). */
  readonly inspectorScan: InspectorScanDouble;
  readonly faults: FaultInjector;
  /** The service-model validator every request passes first (its `checked` constraints). */
  readonly validator: RequestValidator;
  /** The KMS key of each snapshot the doubles know of (CopyImageDouble; a bake records its own). */
  readonly snapshotKeys: SnapshotKeys;
  /** IAM evaluation of the calls made while a role is set ({@link MotoGapProxy.runAs}). */
  readonly iam: IamAuthorizer | undefined;
  /**
   * Run `act` with every call through the proxy made as `role` (a role of the packaged stack):
   * each is evaluated against the role's policies and refused like AWS when not allowed.
   * Invocations may overlap: calls of clients hooked with {@link attributeCallsToRole} carry their
   * role; a call without it is attributed to the one role acting, and refused (HTTP 500) when
   * several different roles act at once.
   */
  runAs<T>(role: string, act: () => Promise<T>): Promise<T>;
  /** Every operation seen, in order. */
  readonly operations: SeenOperation[];
  close(): Promise<void>;
}

const readBody = async (message: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of message) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** The region a request is signed for (its SigV4 credential scope), else the test region. */
const regionOf = (headers: IncomingMessage['headers']): string =>
  /Credential=[^/]+\/[^/]+\/([^/]+)\/[^/]+\/aws4_request/.exec(String(headers.authorization ?? ''))?.[1] ??
  TEST_REGION;

/** The AWS managed key of EBS: what an encrypted snapshot gets when no key is named. */
export const DEFAULT_EBS_KEY = 'alias/aws/ebs';

/**
 * SnapshotKeys: the KMS key of each encrypted snapshot (moto records none for AMI snapshots).
 * CopyImageDouble records the copies' keys; a test records the bake's (`KMS_KEY_ID` of the Packer
 * task, the default EBS key when empty). A snapshot never recorded counts as encrypted with the
 * default key (Packer's `encrypted = true` without `kms_key_id`).
 */
export class SnapshotKeys {
  readonly #keys = new Map<string, string>();
  record(snapshotId: string, kmsKeyId: string | undefined): void {
    this.#keys.set(snapshotId, kmsKeyId || DEFAULT_EBS_KEY);
  }
  keyOf(snapshotId: string): string {
    return this.#keys.get(snapshotId) ?? DEFAULT_EBS_KEY;
  }
}

const serviceOf = (headers: IncomingMessage['headers']): string =>
  /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(String(headers.authorization ?? ''))?.[1] ??
  'unknown';

/** An S3 object call of a path-style request (`/<bucket>/<key>`), by its method; undefined for any other. */
const s3ObjectCall = (
  method: string,
  path: string,
): { operation: 'GetObject' | 'HeadObject' | 'PutObject'; bucket: string; key: string } | undefined => {
  const match = /^\/([^/]+)\/(.+)$/.exec(path);
  if (!match) return undefined;
  const operation = ({ GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject' } as const)[
    method as 'GET' | 'HEAD' | 'PUT'
  ];
  return operation && { operation, bucket: match[1] as string, key: decodeURIComponent(match[2] as string) };
};

const json = (
  status: number,
  body: unknown,
  contentType = 'application/x-amz-json-1.1',
  headers: Record<string, string> = {},
): Reply => ({
  status,
  headers: { 'content-type': contentType, ...headers },
  body: Buffer.from(JSON.stringify(body)),
});

const jsonError = (status: number, type: string, message: string, contentType?: string): Reply =>
  json(status, { __type: type, message }, contentType);

const xml = (body: string): Reply => ({
  status: 200,
  headers: { 'content-type': 'text/xml;charset=UTF-8' },
  body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`),
});

const escapeXml = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Form fields `Prefix.1`, `Prefix.2`, … of an EC2 Query request. */
const listField = (form: URLSearchParams, prefix: string): string[] =>
  [...form.entries()].filter(([key]) => new RegExp(`^${prefix}\\.\\d+$`).test(key)).map(([, value]) => value);

/** Start a proxy in front of the moto server at `motoEndpoint`. */
export const startMotoGapProxy = async (
  motoEndpoint: string,
  options: { validator?: RequestValidator; iam?: IamAuthorizer } = {},
): Promise<MotoGapProxy> => {
  const upstream = new URL(motoEndpoint);
  const ec2 = new EC2Client({
    endpoint: motoEndpoint,
    region: TEST_REGION,
    credentials: {
      accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
  });
  const ssmClient = new SSMClient({
    endpoint: motoEndpoint,
    region: TEST_REGION,
    credentials: {
      accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    },
  });
  /** moto's EC2 and SSM in another region (the doubles act where the request was sent). */
  const regional = new Map<string, { ec2: EC2Client; ssm: SSMClient }>();
  const clientsIn = (region: string) => {
    if (region === TEST_REGION) return { ec2, ssm: ssmClient };
    let clients = regional.get(region);
    if (!clients) {
      const settings = {
        endpoint: motoEndpoint,
        region,
        credentials: {
          accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
          secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
        },
      };
      clients = { ec2: new EC2Client(settings), ssm: new SSMClient(settings) };
      regional.set(region, clients);
    }
    return clients;
  };
  const snapshotKeys = new SnapshotKeys();
  /** CopyImage client tokens per region: the copy each made and the request it was made for. */
  const copyTokens = new Map<string, { imageId: string; request: string }>();
  const publicParameters = new PublicParameterPublisher();
  const ssmAgent = new SsmAgentDouble();
  const incidents = new IncidentManagerDouble();
  const executions = new ExecutionOutcomeDouble();
  const instanceRefreshes = new InstanceRefreshDouble();
  const inspectorScan = new InspectorScanDouble();
  /** moto's Auto Scaling in a region (the groups the refresh double acts on). */
  const autoScalingClients = new Map<string, AutoScalingClient>();
  const autoScalingIn = (region: string): AutoScalingClient => {
    let client = autoScalingClients.get(region);
    if (!client) {
      client = new AutoScalingClient({
        endpoint: motoEndpoint,
        region,
        credentials: {
          accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID,
          secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY,
        },
      });
      autoScalingClients.set(region, client);
    }
    return client;
  };
  const faults = new FaultInjector();
  const validator = options.validator ?? new RequestValidator();
  const iam = options.iam;
  /** Roles acting now (runAs calls in progress), with how many invocations of each. */
  const actingRoles = new Map<string, number>();
  const operations: SeenOperation[] = [];
  // moto applies a DynamoDB condition expression and its write without a lock, so two concurrent
  // requests could both pass a condition. DynamoDB applies each conditional write atomically for
  // its item (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html):
  // the proxy forwards DynamoDB requests one at a time, which gives that guarantee (MOTO-GAPS.md).
  let dynamodbQueue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const result = dynamodbQueue.then(work);
    dynamodbQueue = result.catch(() => undefined);
    return result;
  };

  /** AWS's answer to a denied call, in the caller's protocol. */
  const denied = (service: string, operation: string, decision: Decision): Reply => {
    const message = `User: arn:aws:sts::${MOTO_ACCOUNT_ID}:assumed-role/${decision.role}/session is not authorized to perform: ${decision.action} on resource: ${decision.resource} (${decision.result}${decision.detail ? `: ${decision.detail}` : ''})`;
    if (service === 'ec2') {
      return {
        status: 403,
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: Buffer.from(
          `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
        ),
      };
    }
    if (service === 's3') {
      // S3's REST error document (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
      return {
        status: 403,
        headers: { 'content-type': 'application/xml' },
        body: Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${escapeXml(message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`,
        ),
      };
    }
    if (service === 'iam' || service === 'sts' || service === 'autoscaling') {
      return {
        status: 403,
        headers: { 'content-type': 'text/xml' },
        body: Buffer.from(
          `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
        ),
      };
    }
    return jsonError(400, 'AccessDeniedException', `${message} [${operation}]`);
  };

  /** Whether the acting role may delete this snapshot (DeregisterImage's DeleteAssociatedSnapshots). */
  const mayDeleteSnapshot = async (
    snapshotId: string,
    role: string | undefined,
    region: string,
  ): Promise<boolean> => {
    if (!iam || !role) return true;
    const decisions = await iam.authorize(role, 'ec2', 'DeleteSnapshot', { SnapshotId: snapshotId }, region);
    return decisions.every((d) => d.result === 'Allowed');
  };

  const forward = async (incoming: IncomingMessage, body: Buffer): Promise<Reply> =>
    new Promise((resolveReply, reject) => {
      const headers: Record<string, string | string[] | undefined> = {
        ...incoming.headers,
        host: upstream.host,
        'content-length': String(body.length),
      };
      delete headers[ROLE_HEADER];
      const outgoing = request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers,
        },
        (response) => {
          readBody(response).then((responseBody) => {
            const responseHeaders: Record<string, string> = {};
            for (const [key, value] of Object.entries(response.headers)) {
              if (value !== undefined && key !== 'content-length' && key !== 'transfer-encoding') {
                responseHeaders[key] = Array.isArray(value) ? value.join(', ') : value;
              }
            }
            resolveReply({
              status: response.statusCode ?? 502,
              headers: responseHeaders,
              body: responseBody,
            });
          }, reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });

  const withBody = (incoming: IncomingMessage, input: Record<string, unknown>): Promise<Reply> =>
    forward(incoming, Buffer.from(JSON.stringify(input)));

  const runningInstances = async (): Promise<Array<{ id: string; imageId: string; ip: string }>> => {
    const reply = await ec2.send(new DescribeInstancesCommand({}));
    return (reply.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .filter((i) => i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down')
      .map((i) => ({
        id: i.InstanceId ?? '',
        imageId: i.ImageId ?? '',
        ip: i.PrivateIpAddress ?? '10.0.0.1',
      }));
  };

  const ssm = async (
    incoming: IncomingMessage,
    operation: string,
    input: Record<string, unknown>,
    body: Buffer,
  ) => {
    switch (operation) {
      case 'GetParameter': {
        const found = publicParameters.lookup(String(input.Name));
        return found ? { reply: json(200, { Parameter: found }), by: 'double' as const } : undefined;
      }
      case 'GetParameters': {
        const names = (input.Names as string[] | undefined) ?? [];
        const ours = names.map((n) => publicParameters.lookup(n)).filter((p) => p !== undefined);
        if (ours.length === 0) return undefined;
        const rest = names.filter((n) => publicParameters.lookup(n) === undefined);
        let parameters: unknown[] = ours;
        let invalid: unknown[] = [];
        if (rest.length > 0) {
          const reply = await withBody(incoming, { ...input, Names: rest });
          if (reply.status !== 200) return { reply, by: 'moto' as const };
          const parsed = JSON.parse(reply.body.toString()) as {
            Parameters?: unknown[];
            InvalidParameters?: unknown[];
          };
          parameters = [...ours, ...(parsed.Parameters ?? [])];
          invalid = parsed.InvalidParameters ?? [];
        }
        return {
          reply: json(200, { Parameters: parameters, InvalidParameters: invalid }),
          by: 'double' as const,
        };
      }
      case 'GetParametersByPath': {
        const names = publicParameters.namesUnder(String(input.Path), input.Recursive === true);
        if (names.length === 0) return undefined;
        return {
          reply: json(200, { Parameters: names.map((n) => publicParameters.lookup(n)) }),
          by: 'double' as const,
        };
      }
      case 'DescribeInstanceInformation': {
        const wanted = new Set<string>([
          ...(
            (input.InstanceInformationFilterList as Array<{ key: string; valueSet: string[] }> | undefined) ??
            []
          )
            .filter((f) => f.key === 'InstanceIds')
            .flatMap((f) => f.valueSet),
          ...((input.Filters as Array<{ Key: string; Values: string[] }> | undefined) ?? [])
            .filter((f) => f.Key === 'InstanceIds')
            .flatMap((f) => f.Values),
        ]);
        const instances = (await runningInstances()).filter((i) => wanted.size === 0 || wanted.has(i.id));
        const now = Date.now() / 1000;
        return {
          reply: json(200, {
            InstanceInformationList: instances.map((i) => ({
              InstanceId: i.id,
              PingStatus: ssmAgent.ping(i.id),
              LastPingDateTime: now,
              AgentVersion: '3.3.0.0',
              IsLatestVersion: true,
              PlatformType: 'Linux',
              PlatformName: 'Ubuntu',
              PlatformVersion: '24.04',
              ResourceType: 'EC2Instance',
              IPAddress: i.ip,
              ComputerName: `ip-${i.ip.replace(/\./g, '-')}.ec2.internal`,
            })),
          }),
          by: 'double' as const,
        };
      }
      case 'GetCommandInvocation': {
        const reply = await forward(incoming, body);
        if (reply.status !== 200) return { reply, by: 'moto' as const };
        const step = ssmAgent.nextStep(String(input.CommandId), String(input.InstanceId));
        if (step === undefined) return { reply, by: 'moto' as const };
        if (step.status === 'NotYet') {
          return {
            reply: jsonError(400, 'InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)'),
            by: 'double' as const,
          };
        }
        const finished = step.status === 'Success' || step.status === 'Failed' || step.status === 'TimedOut';
        const defaultCode = step.status === 'Success' ? 0 : step.status === 'Failed' ? 1 : -1;
        const invocation = JSON.parse(reply.body.toString()) as Record<string, unknown>;
        return {
          reply: json(200, {
            ...invocation,
            Status: step.status,
            StatusDetails: step.status === 'TimedOut' ? 'DeliveryTimedOut' : step.status,
            ResponseCode: step.exitCode ?? defaultCode,
            StandardOutputContent: step.stdout ?? '',
            StandardErrorContent: step.stderr ?? '',
            ...(finished ? {} : { ExecutionEndDateTime: '' }),
          }),
          by: 'double' as const,
        };
      }
      default:
        return undefined;
    }
  };

  /**
   * `PutEventsEntryChecksDouble`: EventBridge `PutEvents` entries that AWS fails individually and
   * moto puts: a `Source` starting with `aws.` ("The aws. value prefix is service-reserved",
   * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html; AWS
   * answers `NotAuthorizedForSourceException` for that entry, as seen in
   * aws-samples/serverless-patterns#3089) and a `Detail` that is not a JSON object ("A valid JSON
   * object", same page; moto only warns). Valid entries go to moto; the reply lists every entry
   * in request order with `FailedEntryCount`, as AWS's does.
   * @returns undefined when every entry is valid (moto answers as it is).
   */
  const putEventsEntryChecks = async (incoming: IncomingMessage, input: Record<string, unknown>) => {
    const entries = (input.Entries as Array<Record<string, unknown>> | undefined) ?? [];
    const failureOf = (entry: Record<string, unknown>) => {
      if (String(entry.Source ?? '').startsWith('aws.'))
        return {
          ErrorCode: 'NotAuthorizedForSourceException',
          ErrorMessage: 'Not authorized for the source.',
        };
      if (typeof entry.Detail !== 'string') return undefined;
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail);
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      return detail !== null && typeof detail === 'object' && !Array.isArray(detail)
        ? undefined
        : { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    };
    const failures = entries.map(failureOf);
    if (failures.every((failure) => failure === undefined)) return undefined;
    const accepted = entries.filter((_, index) => failures[index] === undefined);
    let results: Array<Record<string, unknown>> = [];
    if (accepted.length > 0) {
      const reply = await forward(incoming, Buffer.from(JSON.stringify({ ...input, Entries: accepted })));
      if (reply.status !== 200) return { reply, by: 'moto' as const };
      results =
        (JSON.parse(reply.body.toString()) as { Entries?: Array<Record<string, unknown>> }).Entries ?? [];
    }
    const merged = failures.map((failure) => failure ?? results.shift() ?? {});
    return {
      reply: json(200, {
        FailedEntryCount: merged.filter((entry) => entry.ErrorCode !== undefined).length,
        Entries: merged,
      }),
      by: 'double' as const,
    };
  };

  /**
   * `DescribeImagesOfOwnersDouble`: EC2 `DescribeImages` with both `ImageId.N` and `Owner.N`. AWS
   * returns the intersection ("If you specify one or more AMI owners, only AMIs from the specified
   * owners and for which you have access are returned",
   * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html); moto ignores
   * `Owner.N` when ids are given. The ids of other owners are dropped before moto answers (ids moto
   * does not know are kept, so that moto still reports them as not found).
   * @returns undefined when the request does not combine both.
   */
  const imagesOfOwners = async (incoming: IncomingMessage, form: URLSearchParams) => {
    const numbered = (name: string): string[] =>
      [...form.entries()]
        .filter(([key]) => new RegExp(`^${name}\\.\\d+$`).test(key))
        .map(([, value]) => value);
    const ids = numbered('ImageId');
    const owners = numbered('Owner');
    if (ids.length === 0 || owners.length === 0) return undefined;
    const kept: string[] = [];
    for (const imageId of ids) {
      let image: { OwnerId?: string; ImageOwnerAlias?: string } | undefined;
      try {
        image = (
          await clientsIn(regionOf(incoming.headers)).ec2.send(
            new DescribeImagesCommand({ ImageIds: [imageId] }),
          )
        ).Images?.[0];
      } catch {
        image = undefined;
      }
      const ownerMatches = (owner: string): boolean =>
        owner === 'self'
          ? image?.OwnerId === MOTO_ACCOUNT_ID
          : owner === image?.OwnerId || owner === image?.ImageOwnerAlias;
      if (!image || owners.some(ownerMatches)) kept.push(imageId);
    }
    if (kept.length === ids.length) return undefined;
    if (kept.length === 0) {
      return {
        reply: xml(
          `<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><imagesSet/></DescribeImagesResponse>`,
        ),
        by: 'double' as const,
      };
    }
    const narrowed = new URLSearchParams(
      [...form.entries()].filter(([key]) => !/^(ImageId|Owner)\.\d+$/.test(key)),
    );
    kept.forEach((imageId, index) => {
      narrowed.set(`ImageId.${index + 1}`, imageId);
    });
    return { reply: await forward(incoming, Buffer.from(narrowed.toString())), by: 'double' as const };
  };

  /**
   * `EbsRootDeviceDouble`: moto describes every image it registered itself (`CreateImage`,
   * `RegisterImage`) with `rootDeviceType` `standard`, a value AWS does not have (the `DeviceType`
   * enum of the EC2 model is `ebs | instance-store`); every such image here is EBS-backed (moto
   * made an EBS snapshot for it), so `standard` is answered as `ebs`, as AWS would. Packer's
   * amazon-ebs builder refuses a source AMI whose root device type is not `ebs`.
   */
  const ebsRootDevices = (answer: { reply: Reply; by: SeenOperation['answeredBy'] }) => {
    if (answer.reply.status !== 200) return answer;
    const body = answer.reply.body.toString();
    const fixed = body.replaceAll(
      '<rootDeviceType>standard</rootDeviceType>',
      '<rootDeviceType>ebs</rootDeviceType>',
    );
    if (fixed === body) return answer;
    return { reply: { ...answer.reply, body: Buffer.from(fixed) }, by: 'double' as const };
  };

  const ec2Error = (status: number, code: string, message: string) => ({
    reply: {
      status,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body: Buffer.from(
        `<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
      ),
    },
    by: 'double' as const,
  });

  /** `TagSpecification.N` of a Query request, by resource type. */
  const tagSpecifications = (form: URLSearchParams): Map<string, Array<{ Key: string; Value: string }>> => {
    const specs = new Map<string, Array<{ Key: string; Value: string }>>();
    for (let n = 1; form.has(`TagSpecification.${n}.ResourceType`); n += 1) {
      const tags: Array<{ Key: string; Value: string }> = [];
      for (let t = 1; form.has(`TagSpecification.${n}.Tag.${t}.Key`); t += 1) {
        tags.push({
          Key: form.get(`TagSpecification.${n}.Tag.${t}.Key`) ?? '',
          Value: form.get(`TagSpecification.${n}.Tag.${t}.Value`) ?? '',
        });
      }
      specs.set(form.get(`TagSpecification.${n}.ResourceType`) ?? '', tags);
    }
    return specs;
  };

  /**
   * CopyImageDouble: moto's CopyImage copies the image but ignores `ClientToken`, `Encrypted`,
   * `KmsKeyId`, `CopyImageTags` and `TagSpecifications` (MOTO-GAPS.md). As the API reference
   * states (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html):
   * - a `ClientToken` seen before in the region returns that copy; with other parameters,
   *   `IdempotentParameterMismatch` (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html);
   * - `KmsKeyId` without `Encrypted=true` is refused ("If you specify a KMS key, you must also set
   *   the encrypted state to true"), and so is a key ARN of another region (the copy's snapshots
   *   are encrypted in the destination region);
   * - `CopyImageTags=true` copies the source's user-defined tags (not `aws:` ones);
   * - `TagSpecifications` tag the new image and its snapshots.
   * The copy's snapshots are recorded in {@link SnapshotKeys} with the key named, else the default
   * EBS key (a copy of an encrypted snapshot is always encrypted).
   */
  const copyImage = async (
    incoming: IncomingMessage,
    form: URLSearchParams,
    body: Buffer,
    region: string,
  ) => {
    const token = form.get('ClientToken');
    const fingerprint = [...form.entries()]
      .filter(([key]) => key !== 'Action' && key !== 'Version')
      .sort()
      .join('&');
    const reply = (imageId: string) => ({
      reply: xml(
        `<CopyImageResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><imageId>${imageId}</imageId></CopyImageResponse>`,
      ),
      by: 'double' as const,
    });
    if (token) {
      const seen = copyTokens.get(`${region}|${token}`);
      if (seen && seen.request !== fingerprint)
        return ec2Error(
          400,
          'IdempotentParameterMismatch',
          `client token ${token} was used with other parameters`,
        );
      if (seen) return reply(seen.imageId);
    }
    const kmsKeyId = form.get('KmsKeyId') ?? undefined;
    if (kmsKeyId && form.get('Encrypted') !== 'true')
      return ec2Error(400, 'InvalidParameterCombination', 'KmsKeyId requires Encrypted to be true');
    const keyRegion = kmsKeyId ? /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(kmsKeyId)?.[1] : undefined;
    if (keyRegion !== undefined && keyRegion !== region)
      return ec2Error(
        400,
        'InvalidParameterValue',
        `KMS key ${kmsKeyId} is not in the destination region ${region}`,
      );
    const sourceRegion = form.get('SourceRegion') ?? region;
    const sourceImageId = form.get('SourceImageId') ?? '';
    const forwarded = await forward(incoming, body);
    if (forwarded.status !== 200) return { reply: forwarded, by: 'moto' as const };
    const imageId = /<imageId>([^<]+)<\/imageId>/.exec(forwarded.body.toString())?.[1] ?? '';
    const { ec2: destination } = clientsIn(region);
    const image = (await destination.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
    const snapshots = (image?.BlockDeviceMappings ?? []).flatMap((m) =>
      m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
    );
    const specs = tagSpecifications(form);
    const imageTags = [...(specs.get('image') ?? [])];
    if (form.get('CopyImageTags') === 'true') {
      const { Tags } = await clientsIn(sourceRegion).ec2.send(
        new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [sourceImageId] }] }),
      );
      for (const tag of Tags ?? [])
        if (tag.Key && !tag.Key.startsWith('aws:'))
          imageTags.unshift({ Key: tag.Key, Value: tag.Value ?? '' });
    }
    if (imageTags.length > 0)
      await destination.send(new CreateTagsCommand({ Resources: [imageId], Tags: imageTags }));
    const snapshotTags = specs.get('snapshot') ?? [];
    if (snapshotTags.length > 0 && snapshots.length > 0)
      await destination.send(new CreateTagsCommand({ Resources: snapshots, Tags: snapshotTags }));
    for (const snapshotId of snapshots) snapshotKeys.record(snapshotId, kmsKeyId);
    if (token) copyTokens.set(`${region}|${token}`, { imageId, request: fingerprint });
    return reply(imageId);
  };

  /**
   * ModifySnapshotAttribute `createVolumePermission` `add` for accounts: refused for a snapshot
   * encrypted with the AWS managed key ("Snapshots encrypted with your default KMS key cannot be
   * shared with other accounts",
   * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html), which
   * moto allows; and an account id that is not 12 digits is refused as EC2 refuses it.
   */
  const snapshotShareRefusal = (form: URLSearchParams) => {
    const adding =
      form.get('OperationType') === 'add' ||
      [...form.keys()].some((key) => key.startsWith('CreateVolumePermission.Add.'));
    if (!adding) return undefined;
    const accounts = [
      ...listField(form, 'UserId'),
      ...[...form.entries()]
        .filter(([key]) => /^CreateVolumePermission\.Add\.\d+\.UserId$/.test(key))
        .map(([, v]) => v),
    ];
    const invalid = accounts.find((account) => !/^\d{12}$/.test(account));
    if (invalid !== undefined)
      return ec2Error(400, 'InvalidParameterValue', `Value (${invalid}) for parameter userId is invalid`);
    const snapshotId = form.get('SnapshotId') ?? '';
    if (accounts.length > 0 && snapshotKeys.keyOf(snapshotId) === DEFAULT_EBS_KEY)
      return ec2Error(
        400,
        'InvalidParameter',
        `snapshot ${snapshotId} is encrypted with the default EBS key: snapshots encrypted with your default KMS key cannot be shared with other accounts`,
      );
    return undefined;
  };

  const ec2Query = async (
    incoming: IncomingMessage,
    form: URLSearchParams,
    body: Buffer,
    caller: string | undefined,
  ) => {
    const action = form.get('Action');
    const region = regionOf(incoming.headers);
    const { ec2, ssm: ssmClient } = clientsIn(region);
    if (action === 'CopyImage') return copyImage(incoming, form, body, region);
    if (action === 'ModifySnapshotAttribute') {
      const refusal = snapshotShareRefusal(form);
      if (refusal) return refusal;
    }
    if (action === 'DescribeImages') {
      const owned = await imagesOfOwners(incoming, form);
      if (owned) return owned;
    }
    if (action === 'CreateImage') {
      const specs = new Map<string, string>();
      for (const [key, value] of form.entries()) {
        const match = /^TagSpecification\.(\d+)\.ResourceType$/.exec(key);
        if (match?.[1]) specs.set(match[1], value);
      }
      const snapshotSpec = [...specs].find(([, type]) => type === 'snapshot')?.[0];
      if (snapshotSpec !== undefined) {
        const prefix = `TagSpecification.${snapshotSpec}.`;
        const tags: Array<{ Key: string; Value: string }> = [];
        for (let n = 1; form.has(`${prefix}Tag.${n}.Key`); n += 1) {
          tags.push({
            Key: form.get(`${prefix}Tag.${n}.Key`) ?? '',
            Value: form.get(`${prefix}Tag.${n}.Value`) ?? '',
          });
        }
        // Forward without the snapshot specification (the other one renumbered to 1).
        const rest = new URLSearchParams();
        for (const [key, value] of form.entries()) {
          if (key.startsWith(prefix)) continue;
          rest.append(key.replace(/^TagSpecification\.\d+\./, 'TagSpecification.1.'), value);
        }
        const reply = await forward(incoming, Buffer.from(rest.toString()));
        if (reply.status !== 200) return { reply, by: 'moto' as const };
        const imageId = /<imageId>([^<]+)<\/imageId>/.exec(reply.body.toString())?.[1];
        if (imageId && tags.length > 0) {
          const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
          const snapshots = (image?.BlockDeviceMappings ?? []).flatMap((m) =>
            m.Ebs?.SnapshotId ? [m.Ebs.SnapshotId] : [],
          );
          if (snapshots.length > 0)
            await ec2.send(new CreateTagsCommand({ Resources: snapshots, Tags: tags }));
        }
        return { reply, by: 'double' as const };
      }
    }
    if (action === 'DescribeImageReferences') {
      const imageIds = new Set(listField(form, 'ImageId'));
      const requested = [...form.entries()]
        .filter(([key]) => /^ResourceType\.\d+\.ResourceType$/.test(key))
        .map(([, value]) => value);
      const wants = (type: string): boolean =>
        form.get('IncludeAllResourceTypes') === 'true' || requested.includes(type);
      const references: Array<{ imageId: string; type: string; arn: string }> = [];
      for (const instance of wants('ec2:Instance') ? await runningInstances() : []) {
        if (imageIds.has(instance.imageId)) {
          references.push({
            imageId: instance.imageId,
            type: 'ec2:Instance',
            arn: `arn:aws:ec2:${TEST_REGION}:${MOTO_ACCOUNT_ID}:instance/${instance.id}`,
          });
        }
      }
      const templates = wants('ec2:LaunchTemplate')
        ? ((await ec2.send(new DescribeLaunchTemplatesCommand({}))).LaunchTemplates ?? [])
        : [];
      for (const template of templates) {
        const { LaunchTemplateVersions } = await ec2.send(
          new DescribeLaunchTemplateVersionsCommand({
            LaunchTemplateId: template.LaunchTemplateId,
            Versions: ['$Default', '$Latest'],
          }),
        );
        const used = new Set((LaunchTemplateVersions ?? []).map((v) => v.LaunchTemplateData?.ImageId ?? ''));
        for (const imageId of used) {
          if (imageIds.has(imageId)) {
            references.push({
              imageId,
              type: 'ec2:LaunchTemplate',
              arn: `arn:aws:ec2:${TEST_REGION}:${MOTO_ACCOUNT_ID}:launch-template/${template.LaunchTemplateId}`,
            });
          }
        }
      }
      if (wants('ssm:Parameter')) {
        const names: string[] = [];
        for await (const page of paginateDescribeParameters({ client: ssmClient }, {})) {
          names.push(...(page.Parameters ?? []).map((parameter) => parameter.Name ?? ''));
        }
        for (let start = 0; start < names.length; start += 10) {
          const { Parameters } = await ssmClient.send(
            new GetParametersCommand({ Names: names.slice(start, start + 10) }),
          );
          for (const parameter of Parameters ?? []) {
            if (parameter.Value !== undefined && imageIds.has(parameter.Value)) {
              references.push({ imageId: parameter.Value, type: 'ssm:Parameter', arn: parameter.ARN ?? '' });
            }
          }
        }
      }
      const items = references
        .map(
          (r) =>
            `<item><imageId>${escapeXml(r.imageId)}</imageId><resourceType>${r.type}</resourceType><arn>${escapeXml(r.arn)}</arn></item>`,
        )
        .join('');
      return {
        reply: xml(
          `<DescribeImageReferencesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><imageReferenceSet>${items}</imageReferenceSet></DescribeImageReferencesResponse>`,
        ),
        by: 'double' as const,
      };
    }
    if (action === 'DeleteSecurityGroup') {
      const groupId = form.get('GroupId') ?? '';
      const reply = await ec2.send(new DescribeInstancesCommand({}));
      const users = (reply.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .filter((i) => i.State?.Name !== 'terminated')
        .filter((i) => (i.SecurityGroups ?? []).some((group) => group.GroupId === groupId));
      if (users.length > 0) {
        const message = `resource ${groupId} has a dependent object`;
        return {
          reply: {
            status: 400,
            headers: { 'content-type': 'text/xml;charset=UTF-8' },
            body: Buffer.from(
              `<Response><Errors><Error><Code>DependencyViolation</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
            ),
          },
          by: 'double' as const,
        };
      }
    }
    if (action === 'DeregisterImage' && form.get('DeleteAssociatedSnapshots') === 'true') {
      const imageId = form.get('ImageId') ?? '';
      let snapshotIds: string[] = [];
      try {
        const described = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
        snapshotIds = (described.Images?.[0]?.BlockDeviceMappings ?? [])
          .map((m) => m.Ebs?.SnapshotId)
          .filter((id): id is string => id !== undefined);
      } catch {
        // let moto produce the error for an unknown image below
      }
      const reply = await forward(incoming, body);
      if (reply.status !== 200) return { reply, by: 'moto' as const };
      const results: string[] = [];
      for (const snapshotId of snapshotIds) {
        let code = 'success';
        if (!(await mayDeleteSnapshot(snapshotId, caller, region))) {
          code = 'missing-permissions';
        } else {
          try {
            await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
          } catch {
            code = 'client-error';
          }
        }
        results.push(
          `<item><snapshotId>${escapeXml(snapshotId)}</snapshotId><returnCode>${code}</returnCode></item>`,
        );
      }
      return {
        reply: xml(
          `<DeregisterImageResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><return>true</return><deleteSnapshotResultSet>${results.join('')}</deleteSnapshotResultSet></DeregisterImageResponse>`,
        ),
        by: 'double' as const,
      };
    }
    return undefined;
  };

  /** An error of the awsQuery protocol (EC2 Auto Scaling): `ErrorResponse/Error/{Type,Code,Message}`. */
  const queryError = (code: string, message: string) => ({
    reply: {
      status: 400,
      headers: { 'content-type': 'text/xml' },
      body: Buffer.from(
        `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      ),
    },
    by: 'double' as const,
  });

  /**
   * InstanceRefreshDouble: `StartInstanceRefresh` and `DescribeInstanceRefreshes` (moto answers
   * HTTP 500), for the groups moto holds in the request's region. Refuses what AWS refuses: an
   * unknown group (`ValidationError`), `MaxHealthyPercentage` without `MinHealthyPercentage` or
   * more than 100 above it (API_RefreshPreferences), a second refresh while one is active
   * (`InstanceRefreshInProgress`, API_StartInstanceRefresh). The ranges of the percentages and the
   * warmup are the service model's, checked by the validator before this.
   */
  const autoScaling = async (operation: string, input: Record<string, unknown>, region: string) => {
    if (operation !== 'StartInstanceRefresh' && operation !== 'DescribeInstanceRefreshes') return undefined;
    const group = String(input.AutoScalingGroupName ?? '');
    const { AutoScalingGroups } = await autoScalingIn(region).send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    if ((AutoScalingGroups ?? []).length === 0)
      return queryError(
        'ValidationError',
        `AutoScalingGroup name not found - AutoScalingGroup '${group}' not found`,
      );
    const requestId = `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`;
    if (operation === 'DescribeInstanceRefreshes') {
      const members = instanceRefreshes
        .of(region, group)
        .map(
          (refresh) =>
            `<member><InstanceRefreshId>${refresh.InstanceRefreshId}</InstanceRefreshId><AutoScalingGroupName>${escapeXml(group)}</AutoScalingGroupName><Status>${refresh.Status}</Status><StartTime>${refresh.StartTime.toISOString()}</StartTime>${refresh.EndTime ? `<EndTime>${refresh.EndTime.toISOString()}</EndTime>` : ''}${refresh.Preferences?.MinHealthyPercentage === undefined ? '' : `<Preferences><MinHealthyPercentage>${Number(refresh.Preferences.MinHealthyPercentage)}</MinHealthyPercentage></Preferences>`}</member>`,
        )
        .join('');
      return {
        reply: xml(
          `<DescribeInstanceRefreshesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeInstanceRefreshesResult><InstanceRefreshes>${members}</InstanceRefreshes></DescribeInstanceRefreshesResult>${requestId}</DescribeInstanceRefreshesResponse>`,
        ),
        by: 'double' as const,
      };
    }
    const preferences = (input.Preferences ?? {}) as Record<string, unknown>;
    const min = preferences.MinHealthyPercentage as number | undefined;
    const max = preferences.MaxHealthyPercentage as number | undefined;
    if (max !== undefined && min === undefined)
      return queryError(
        'ValidationError',
        'MaxHealthyPercentage requires MinHealthyPercentage to be specified',
      );
    if (max !== undefined && min !== undefined && max - min > 100)
      return queryError(
        'ValidationError',
        'The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be greater than 100',
      );
    if (instanceRefreshes.active(region, group))
      return queryError(
        'InstanceRefreshInProgress',
        'An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.',
      );
    const refresh: InstanceRefreshRecord = {
      region,
      AutoScalingGroupName: group,
      InstanceRefreshId: randomUUID(),
      Status: 'Pending',
      StartTime: new Date(),
      ...(input.Preferences ? { Preferences: preferences } : {}),
      ...(input.Strategy ? { Strategy: String(input.Strategy) } : {}),
    };
    instanceRefreshes.refreshes.push(refresh);
    return {
      reply: xml(
        `<StartInstanceRefreshResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><StartInstanceRefreshResult><InstanceRefreshId>${refresh.InstanceRefreshId}</InstanceRefreshId></StartInstanceRefreshResult>${requestId}</StartInstanceRefreshResponse>`,
      ),
      by: 'double' as const,
    };
  };

  const incidentManager = (path: string, input: Record<string, unknown>) => {
    if (path === '/listIncidentRecords')
      return {
        reply: json(200, { incidentRecordSummaries: incidents.list(input) }, 'application/json'),
        by: 'double' as const,
      };
    if (path === '/createTimelineEvent') {
      const incident = incidents.addEvent(input);
      return {
        reply: incident
          ? json(
              200,
              { incidentRecordArn: incident.incidentRecordArn, eventId: randomUUID() },
              'application/json',
            )
          : jsonError(404, 'ResourceNotFoundException', 'incident record not found', 'application/json'),
        by: 'double' as const,
      };
    }
    if (path !== '/startIncident') return undefined;
    const failure = incidents.failure;
    if (failure !== undefined) {
      return {
        reply: jsonError(failure.status, failure.type, failure.message, 'application/json'),
        by: 'double' as const,
      };
    }
    const incident = incidents.start(input);
    return {
      reply: json(200, { incidentRecordArn: incident.incidentRecordArn }, 'application/json'),
      by: 'double' as const,
    };
  };

  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> => {
    const body = await readBody(incoming);
    const service = serviceOf(incoming.headers);
    const target = String(incoming.headers['x-amz-target'] ?? '');
    const contentType = String(incoming.headers['content-type'] ?? '');
    let operation = target.includes('.') ? (target.split('.').pop() ?? target) : '';
    let input: Record<string, unknown> = {};
    let answer: { reply: Reply; by: SeenOperation['answeredBy'] } | undefined;
    const query = contentType.startsWith('application/x-www-form-urlencoded');
    const form = query ? new URLSearchParams(body.toString()) : undefined;
    const path = (incoming.url ?? '/').split('?')[0] ?? '/';
    // S3 (rest-xml, path-style on a loopback endpoint): the object calls the factory makes, addressed
    // by method and path; the body is the object, not a request document.
    const s3 = service === 's3' ? s3ObjectCall(incoming.method ?? 'GET', path) : undefined;
    if (service === 's3' && s3 === undefined)
      throw new Error(
        `${incoming.method} ${path}: not an S3 call the factory makes (GetObject, HeadObject, PutObject)`,
      );
    if (s3) {
      operation = s3.operation;
      input = { Bucket: s3.bucket, Key: s3.key };
    } else if (form) {
      operation = form.get('Action') ?? '';
      input = Object.fromEntries(form.entries());
    } else {
      input = body.length > 0 ? (JSON.parse(body.toString()) as Record<string, unknown>) : {};
      if (operation === '') operation = path.replace(/^\//, '').replace(/^./, (c) => c.toUpperCase());
    }

    // rest-json services address the operation by method and URI (Lambda: the operator CLI's
    // GetFunctionConfiguration).
    const rest =
      !form && (service === 'ssm-incidents' || service === 'lambda' || service === 'inspector-scan');
    if (rest) operation = validator.restOperation(service, incoming.method ?? 'POST', path) ?? operation;
    const structured = form
      ? validator.decode(service, operation, form)
      : rest
        ? { ...input, ...validator.restUriMembers(service, operation, path) }
        : input;
    const violations = validator.validate(service, operation, structured);
    const named = incoming.headers[ROLE_HEADER];
    const active = [...actingRoles.keys()];
    if (typeof named !== 'string' && active.length > 1) {
      throw new Error(
        `${service}:${operation} came from a client that names no role while ${active.join(', ')} act at once: hook it with attributeCallsToRole`,
      );
    }
    const caller = typeof named === 'string' ? named : active[0];
    const refusal =
      violations.length > 0 || !iam || !caller
        ? undefined
        : (await iam.authorize(caller, service, operation, structured, regionOf(incoming.headers))).find(
            (d) => d.result !== 'Allowed',
          );
    const fault = violations.length > 0 || refusal ? undefined : faults.take(service, operation, input);
    if (violations.length > 0) {
      answer = { reply: validator.reply(service, violations), by: 'validator' };
    } else if (refusal) {
      answer = { reply: denied(service, operation, refusal), by: 'iam' };
    } else if (fault) {
      const message = fault.message ?? `${fault.code} (injected by the test)`;
      answer = {
        reply: form
          ? {
              status: fault.status,
              headers: { 'content-type': 'text/xml;charset=UTF-8' },
              body: Buffer.from(
                `<Response><Errors><Error><Code>${escapeXml(fault.code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
              ),
            }
          : jsonError(fault.status, fault.code, message),
        by: 'fault',
      };
    } else if (form) {
      if (service === 'ec2') answer = await ec2Query(incoming, form, body, caller);
      if (service === 'autoscaling')
        answer = await autoScaling(operation, structured, regionOf(incoming.headers));
    } else {
      if (service === 'ssm') answer = await ssm(incoming, operation, input, body);
      if (service === 'ssm-incidents') answer = incidentManager(path, input);
      if (service === 'inspector-scan' && operation === 'ScanSbom')
        answer = { reply: inspectorScan.answer(input), by: 'double' };
      if (service === 'events' && operation === 'PutEvents')
        answer = await putEventsEntryChecks(incoming, input);
      if (service === 'states' && operation === 'DescribeExecution') {
        const ended = executions.outcome(String(input.executionArn));
        if (ended) {
          const reply = await forward(incoming, body);
          if (reply.status === 200) {
            const described = JSON.parse(reply.body.toString()) as Record<string, unknown>;
            Object.assign(described, { status: ended.status, stopDate: ended.stopDate.getTime() / 1000 });
            answer = { reply: json(200, described, 'application/x-amz-json-1.0'), by: 'double' };
          } else answer = { reply, by: 'moto' };
        }
      }
    }
    answer ??= {
      reply: await (service === 'dynamodb'
        ? oneAtATime(() => forward(incoming, body))
        : forward(incoming, body)),
      by: 'moto',
    };
    if (service === 'ec2' && operation === 'DescribeImages') answer = ebsRootDevices(answer);
    operations.push({
      service,
      operation,
      input,
      answeredBy: answer.by,
      ...(caller ? { role: caller } : {}),
    });
    outgoing.writeHead(answer.reply.status, {
      ...answer.reply.headers,
      'content-length': answer.reply.body.length,
    });
    outgoing.end(answer.reply.body);
  };

  const server = createServer((incoming, outgoing) => {
    handle(incoming, outgoing).catch((error: unknown) => {
      // A double failed: answer in the caller's protocol so the SDK error names the cause.
      const message = escapeXml(String(error instanceof Error ? (error.stack ?? error) : error));
      if (String(incoming.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        outgoing.writeHead(500, { 'content-type': 'text/xml' });
        outgoing.end(
          `<Response><Errors><Error><Code>MotoGapProxyError</Code><Message>${message}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
        );
        return;
      }
      outgoing.writeHead(500, { 'content-type': 'application/json' });
      outgoing.end(JSON.stringify({ __type: 'MotoGapProxyError', message: String(error) }));
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    publicParameters,
    ssmAgent,
    incidents,
    executions,
    instanceRefreshes,
    inspectorScan,
    faults,
    validator,
    snapshotKeys,
    iam,
    operations,
    runAs: async (next, act) => {
      actingRoles.set(next, (actingRoles.get(next) ?? 0) + 1);
      try {
        return await acting.run(next, act);
      } finally {
        const left = (actingRoles.get(next) ?? 1) - 1;
        if (left === 0) actingRoles.delete(next);
        else actingRoles.set(next, left);
      }
    },
    close: async () => {
      ec2.destroy();
      ssmClient.destroy();
      for (const clients of regional.values()) {
        clients.ec2.destroy();
        clients.ssm.destroy();
      }
      for (const client of autoScalingClients.values()) client.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
};
