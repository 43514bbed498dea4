/**
 * `EVENT_BUS_NAME`: the event bus the factory's events go to (`config.eventBusName`). Kept apart
 * from `config.ts` so the events' configuration is read in one place.
 */
import { getStringFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import { MissingConfiguration } from './errors.js';

/** The account's default event bus in the region. */
export const DEFAULT_EVENT_BUS = 'default';

/**
 * An event bus name, not an ARN: the bus is the stack's account and region, and the roles'
 * `events:PutEvents` names its ARN (`serverless/lambda-roles.yml`). The characters are those
 * of EventBridge's `EventBusName` (botocore model `NonPartnerEventBusNameOrArn`), at most 256.
 */
export const EVENT_BUS_NAME_PATTERN = /^[.\-_A-Za-z0-9]{1,256}$/;

/**
 * `EVENT_BUS_NAME` (default `default`, the account's default bus).
 * @throws MissingConfiguration when it is not a bus name (e.g. an ARN).
 */
export const readEventBusName = (): string => {
  const value = getStringFromEnv({ key: 'EVENT_BUS_NAME', defaultValue: '' });
  if (value === '') return DEFAULT_EVENT_BUS;
  if (!EVENT_BUS_NAME_PATTERN.test(value)) {
    throw new MissingConfiguration(
      `environment variable EVENT_BUS_NAME must be an event bus name of this account and region (1-256 letters, digits, ".", "-", "_"; not an ARN), got "${value}"`,
    );
  }
  return value;
};
