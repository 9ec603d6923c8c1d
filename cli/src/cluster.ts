export async function runCluster(_args: string[]): Promise<number> {
  throw new Error('not yet');
}
