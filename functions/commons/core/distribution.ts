/**
 * Distribution of a promoted build: the regions its image is copied to, the accounts and AWS
 * Organizations targets it is shared with, the KMS key per region, and what happens when a region
 * fails. Pure: no AWS or filesystem imports.
 *
 * The setting is the stage parameter `distribution` (environment `DISTRIBUTION`): a JSON object
 * keyed by pipeline, each value a {@link DistributionSetting}. PrepareBuild resolves the build's
 * pipeline entry with {@link resolveDistribution} into `$.build.distribution`, whose `regions`
 * the `DistributeImage` Map state iterates (the stack's own region first).
 *
 * Facts this relies on (AWS documentation):
 * - Snapshots encrypted with the AWS managed key (`alias/aws/ebs`) cannot be shared with other
 *   accounts; only a customer managed key can be (ModifySnapshotAttribute,
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html).
 * - `CopyImage` runs in the destination region; `KmsKeyId` needs `Encrypted=true`; without a key
 *   the copy is encrypted with the region's default EBS key
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html).
 * - A launch permission names an account id, an organization ARN or an organizational unit ARN
 *   (`LaunchPermission`: `UserId`, `OrganizationArn`, `OrganizationalUnitArn`,
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html); a create
 *   volume permission names an account id or `all` only
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolumePermission.html).
 * - A client token is at most 64 ASCII characters
 *   (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
 */
import * as z from 'zod';
import { parseJsonObjectSetting } from './json-setting.js';

/** An AWS region name of the commercial and GovCloud partitions (`eu-west-1`, `us-gov-west-1`). */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** A 12-digit AWS account id. */
export const ACCOUNT_ID_PATTERN = /^\d{12}$/;
/** An AWS Organizations organization ARN. */
export const ORGANIZATION_ARN_PATTERN =
  /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
/** An AWS Organizations organizational unit ARN. */
export const OU_ARN_PATTERN =
  /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;
/** A KMS key ARN (single- or multi-Region key); the region group is the key's region. */
export const KMS_KEY_ARN_PATTERN =
  /^arn:aws[a-z-]*:kms:(?<region>[a-z]{2}(-[a-z]+)+-\d{1,2}):\d{12}:key\/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/** The AWS managed key of EBS, in any form a setting could name it. */
const AWS_MANAGED_EBS_KEY = /(^|:)alias\/aws\/ebs$/;

/** What a region does when another region failed: `promote-none` (default) or `promote-succeeded`. */
export const ON_REGION_FAILURE = ['promote-none', 'promote-succeeded'] as const;
export type OnRegionFailure = (typeof ON_REGION_FAILURE)[number];

/** Why an organization or OU id is not enough (the API takes ARNs). */
const ARN_NOT_ID =
  'give the ARN, not the id: launch permissions name organizations and OUs by ARN (aws organizations describe-organization / describe-organizational-unit print it)';

const accountId = z.string().superRefine((value, ctx) => {
  if (!ACCOUNT_ID_PATTERN.test(value))
    ctx.addIssue({ code: 'custom', message: `"${value}" is not an AWS account id (12 digits)` });
});
const organizationArn = z.string().superRefine((value, ctx) => {
  if (ORGANIZATION_ARN_PATTERN.test(value)) return;
  ctx.addIssue({
    code: 'custom',
    message: /^o-[a-z0-9]{10,32}$/.test(value)
      ? `"${value}" is an organization id: ${ARN_NOT_ID}`
      : `"${value}" is not an organization ARN (arn:aws:organizations::<management account>:organization/o-…)`,
  });
});
const ouArn = z.string().superRefine((value, ctx) => {
  if (OU_ARN_PATTERN.test(value)) return;
  ctx.addIssue({
    code: 'custom',
    message: /^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/.test(value)
      ? `"${value}" is an organizational unit id: ${ARN_NOT_ID}`
      : `"${value}" is not an organizational unit ARN (arn:aws:organizations::<management account>:ou/o-…/ou-…)`,
  });
});
const regionName = z.string().superRefine((value, ctx) => {
  if (!REGION_PATTERN.test(value))
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a region name such as "eu-west-1"` });
});

/** One pipeline's entry of the `distribution` stage parameter, as written. */
export const DistributionSetting = z.strictObject({
  /** Regions the image is copied to, besides the stack's own (where it is baked). */
  regions: z.array(regionName).max(30).default([]),
  /** A customer managed KMS key ARN per region (the stack's region included), for the copies. */
  kmsKeys: z.record(z.string(), z.string()).default({}),
  shareWith: z
    .strictObject({
      accounts: z.array(accountId).max(100).default([]),
      organizations: z.array(organizationArn).max(10).default([]),
      organizationalUnits: z.array(ouArn).max(100).default([]),
    })
    .default({ accounts: [], organizations: [], organizationalUnits: [] }),
  onRegionFailure: z
    .enum(ON_REGION_FAILURE, { error: `onRegionFailure must be one of: ${ON_REGION_FAILURE.join(', ')}` })
    .default('promote-none'),
});
export type DistributionSetting = z.output<typeof DistributionSetting>;

/** Who a distributed image is shared with. */
export interface ShareTargets {
  readonly accounts: readonly string[];
  readonly organizations: readonly string[];
  readonly organizationalUnits: readonly string[];
}

/** One region of a build's distribution: an item of the `DistributeImage` Map state. */
export interface RegionTarget {
  region: string;
  /** True for the stack's own region: its image is the candidate itself, not a copy. */
  home: boolean;
  /** KMS key ARN the region's image is encrypted with (the bake's in the home region), or null: the default EBS key. */
  kmsKeyId: string | null;
}

/** `$.build.distribution`: what PrepareBuild resolved for the build. */
export interface Distribution {
  /** Every region, the stack's own first. */
  regions: RegionTarget[];
  shareWith: { accounts: string[]; organizations: string[]; organizationalUnits: string[] };
  onRegionFailure: OnRegionFailure;
  /** KMS key ARN the bake encrypts the candidate with (`KMS_KEY_ID` of the Packer task); '' = the default EBS key. */
  bakeKmsKeyId: string;
}

/** True when the targets name anyone. */
export const sharesWithAnyone = (targets: ShareTargets): boolean =>
  targets.accounts.length + targets.organizations.length + targets.organizationalUnits.length > 0;

/** The key problems of one region, or undefined when its key (or its absence) is fine. */
const keyProblem = (region: string, key: string | undefined, sharing: boolean): string | undefined => {
  if (key === undefined)
    return sharing
      ? `region ${region} has no KMS key: sharing encrypted snapshots with other accounts needs a customer managed key per region (kmsKeys.${region}); the AWS managed key aws/ebs cannot be shared`
      : undefined;
  if (AWS_MANAGED_EBS_KEY.test(key))
    return `region ${region} names the AWS managed key aws/ebs: its key policy cannot be changed, so other accounts can never use snapshots encrypted with it; name a customer managed key ARN (or no key, when sharing with nobody)`;
  const match = KMS_KEY_ARN_PATTERN.exec(key);
  if (!match)
    return `kmsKeys.${region} "${key}" is not a KMS key ARN (arn:aws:kms:${region}:<account>:key/<id>)`;
  if (match.groups?.region !== region)
    return `kmsKeys.${region} "${key}" is a key of ${match.groups?.region}: a copy in ${region} needs a key of ${region}`;
  return undefined;
};

/**
 * Resolve one pipeline's distribution for a build in `homeRegion`.
 * @param setting the pipeline's entry of the `distribution` stage parameter (undefined: none).
 * @returns the stack's region alone, with no sharing, when `setting` is undefined.
 * @throws Error (its message lists every problem) when the entry does not parse, names the
 *   stack's region among `regions`, repeats a region, names a key for a region it does not
 *   distribute to, names the AWS managed key, a key of another region or no key while sharing.
 */
export const resolveDistribution = (
  setting: unknown,
  homeRegion: string,
  describe: (problems: string) => Error = (problems) => new Error(problems),
): Distribution => {
  const parsed = DistributionSetting.safeParse(setting ?? {});
  if (!parsed.success) {
    throw describe(
      parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || '(entry)'}: ${issue.message}`)
        .join('; '),
    );
  }
  const entry = parsed.data;
  const problems: string[] = [];
  if (entry.regions.includes(homeRegion))
    problems.push(
      `regions: ${homeRegion} is the stack's own region, where every image is baked; list only the other regions`,
    );
  const duplicates = entry.regions.filter((region, index) => entry.regions.indexOf(region) !== index);
  if (duplicates.length > 0) problems.push(`regions: ${[...new Set(duplicates)].join(', ')} listed twice`);
  const regions = [homeRegion, ...entry.regions.filter((region) => region !== homeRegion)];
  for (const keyRegion of Object.keys(entry.kmsKeys)) {
    if (!regions.includes(keyRegion))
      problems.push(
        `kmsKeys.${keyRegion}: ${keyRegion} is not a region of this distribution (${regions.join(', ')})`,
      );
  }
  const sharing = sharesWithAnyone(entry.shareWith);
  for (const region of [...new Set(regions)]) {
    const problem = keyProblem(region, entry.kmsKeys[region], sharing);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) throw describe(problems.join('; '));
  return {
    regions: [...new Set(regions)].map((region) => ({
      region,
      home: region === homeRegion,
      kmsKeyId: entry.kmsKeys[region] ?? null,
    })),
    shareWith: entry.shareWith,
    onRegionFailure: entry.onRegionFailure,
    bakeKmsKeyId: entry.kmsKeys[homeRegion] ?? '',
  };
};

/**
 * Parse the `distribution` stage parameter: a JSON object keyed by pipeline name ('' or `{}`: no
 * pipeline distributes). Only the JSON shape is checked here; each entry is checked by
 * {@link resolveDistribution} when a build of its pipeline starts.
 * @throws Error when the value is not a JSON object of objects.
 */
export const parseDistributionSettings = (value: string): Record<string, unknown> =>
  parseJsonObjectSetting(value, {
    keyedBy: 'pipeline name',
    entryName: (pipeline) => `pipeline ${pipeline}`,
  });

/**
 * The `CopyImage` client token of a build's copy into a region: the same for every retry of the
 * step, so EC2 returns the first copy instead of making another (≤ 64 ASCII characters).
 */
export const copyClientToken = (buildId: string, region: string): string => {
  const token = `${buildId}.${region}`;
  return token.length <= 64 ? token : token.slice(token.length - 64);
};

/** What one region of the Map state reports (`$.distribution[]`). */
export type RegionOutcome =
  | { region: string; outcome: 'distributed'; imageId: string; snapshotIds: string[] }
  | { region: string; outcome: 'failed'; error: { Error: string; Cause?: string | undefined } };

/** The verdict over every region: which regions are promoted, which failed. */
export interface DistributionVerdict {
  /** `complete`: every region distributed; `partial`: some failed and the others are promoted. */
  outcome: 'complete' | 'partial';
  /** Regions promoted, with the image each region's channel will name (the home region first). */
  promote: Array<{ region: string; imageId: string }>;
  failed: Array<{ region: string; error: string }>;
}

/**
 * Apply the fail policy to the regions' outcomes.
 * - every region distributed → `complete`, all promoted;
 * - a region failed and `promote-none` (default) → no region is promoted (`failed` listed);
 * - a region failed and `promote-succeeded` → the others are promoted, `partial`;
 * - the stack's own region failed → no region is promoted whatever the policy: its image is the
 *   candidate every copy was made from.
 * @returns the verdict, or `{ refused }` naming every failed region when nothing is promoted.
 */
export const settleDistribution = (
  distribution: Pick<Distribution, 'regions' | 'onRegionFailure'>,
  outcomes: readonly RegionOutcome[],
): DistributionVerdict | { refused: string } => {
  const byRegion = new Map(outcomes.map((outcome) => [outcome.region, outcome]));
  const promote: DistributionVerdict['promote'] = [];
  const failed: DistributionVerdict['failed'] = [];
  for (const target of distribution.regions) {
    const outcome = byRegion.get(target.region);
    if (outcome?.outcome === 'distributed') promote.push({ region: target.region, imageId: outcome.imageId });
    else
      failed.push({
        region: target.region,
        error: outcome
          ? `${outcome.error.Error}${outcome.error.Cause ? `: ${outcome.error.Cause}` : ''}`
          : 'no outcome reported',
      });
  }
  if (failed.length === 0) return { outcome: 'complete', promote, failed };
  const list = failed.map((entry) => `${entry.region} (${entry.error})`).join('; ');
  const home = distribution.regions.find((target) => target.home)?.region;
  if (home !== undefined && failed.some((entry) => entry.region === home))
    return { refused: `the stack's own region failed, so no region is promoted: ${list}` };
  if (distribution.onRegionFailure === 'promote-none')
    return { refused: `onRegionFailure is promote-none, so no region is promoted: ${list}` };
  return { outcome: 'partial', promote, failed };
};

/**
 * What IAM must allow for a `distribution` stage parameter: every region its entries copy to
 * (besides the stack's) and every KMS key ARN they name, sorted and without repeats. The stage
 * parameters `distributionRegions` and `distributionKmsKeyArns` must list exactly these
 * (`tests/statemachine/aws-bake-config.test.ts` pins the defaults).
 */
export const distributionScope = (
  settings: Readonly<Record<string, unknown>>,
): { regions: string[]; kmsKeyArns: string[] } => {
  const regions = new Set<string>();
  const keys = new Set<string>();
  for (const entry of Object.values(settings)) {
    const parsed = DistributionSetting.safeParse(entry);
    if (!parsed.success) continue;
    for (const region of parsed.data.regions) regions.add(region);
    for (const key of Object.values(parsed.data.kmsKeys)) keys.add(key);
  }
  return { regions: [...regions].sort(), kmsKeyArns: [...keys].sort() };
};
