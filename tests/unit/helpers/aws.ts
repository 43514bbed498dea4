import { mockClient } from 'aws-sdk-client-mock';

const stubs = new Set<{ reset(): unknown }>();

/**
 * `mockClient(client)` from aws-sdk-client-mock, registered so that `tests/unit/setup.ts` resets
 * its behaviours and call history after every test.
 */
export const mockAws: typeof mockClient = (client, options) => {
  const stub = mockClient(client, options);
  stubs.add(stub);
  return stub;
};

/** Resets every stub made with `mockAws` (behaviours and recorded calls). */
export function resetAwsMocks(): void {
  for (const stub of stubs) stub.reset();
}
