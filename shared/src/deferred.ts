/** A promise with its settle functions, for a value that another party produces later. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
  /** resolve or reject was called (later calls do nothing, as with any promise). */
  readonly settled: boolean;
}

/**
 * A Deferred. `unhandled: 'ignore'` marks the promise handled at once: for a promise that may be
 * refused before anybody awaits it (the owner awaits it later, or never when it is refused).
 */
export function deferred<T>(opts: { unhandled?: 'ignore' } = {}): Deferred<T> {
  let settled = false;
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  if (opts.unhandled === 'ignore') promise.catch(() => undefined);
  return {
    promise,
    resolve: (v) => ((settled = true), resolve(v)),
    reject: (e) => ((settled = true), reject(e)),
    get settled() {
      return settled;
    },
  };
}
