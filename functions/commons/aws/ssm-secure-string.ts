/**
 * Reader of one SSM SecureString (a secret: the Slack webhook URL, a git token) through Powertools
 * Parameters, decrypted and cached `cacheSeconds` per execution environment. The SSM client and
 * the Parameters provider are created on the first read.
 * Powertools Parameters: https://docs.aws.amazon.com/powertools/typescript/latest/features/parameters/
 */
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { ClientProvider } from '../clients/lazy-client.js';

/**
 * @param empty builds the error thrown when the parameter holds no string or an empty one; it gets
 *   the parameter name, never the value.
 * @returns a function resolving to the decrypted value; it throws what SSM throws (e.g.
 *   `ParameterNotFound`) and `empty(parameterName)` for an empty value.
 */
export function ssmSecureString(
  client: ClientProvider<SSMClient>,
  parameterName: string,
  empty: (parameterName: string) => Error,
  cacheSeconds = 300,
): () => Promise<string> {
  let provider: SSMProvider | undefined;
  return async () => {
    provider ??= new SSMProvider({ awsSdkV3Client: client() });
    const value = await provider.get(parameterName, { decrypt: true, maxAge: cacheSeconds });
    if (typeof value !== 'string' || value === '') throw empty(parameterName);
    return value;
  };
}
