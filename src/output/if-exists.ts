/** "Nothing there" as a value: the one place that turns ENOENT into undefined (other errors still throw). */

/** The result of a file-system call, or undefined when its path does not exist. */
export async function unlessMissing<T>(operation: Promise<T>): Promise<T | undefined> {
  try {
    return await operation;
  } catch (e) {
    if ((e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw e;
  }
}

/** unlessMissing for a blocking call. */
export function unlessMissingSync<T>(operation: () => T): T | undefined {
  try {
    return operation();
  } catch (e) {
    if ((e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw e;
  }
}
