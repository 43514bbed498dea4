/**
 * Runtime compatibility for the machine's Node 20.
 *
 * aws-local-stepfunctions 3.x calls `Promise.withResolvers`, which Node ships from 22 on
 * (Lambda's `nodejs22.x` has it). On Node 20 we install the standard shape
 * `{ promise, resolve, reject }` (TC39 proposal-promise-with-resolvers) before it is used.
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const promiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof promiseCtor.withResolvers !== 'function') {
  promiseCtor.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>['resolve'];
    let reject!: Resolvers<T>['reject'];
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
