import { createInterface } from 'node:readline';

/** Read a line without echoing it (on a TTY); from stdin as is otherwise. */
export function readSecret(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
    const out = rl as unknown as { _writeToOutput?: (s: string) => void; output: NodeJS.WriteStream };
    if (process.stdin.isTTY) {
      process.stderr.write(prompt);
      out._writeToOutput = () => undefined; // no echo
    }
    rl.question(process.stdin.isTTY ? '' : '', (answer) => {
      rl.close();
      if (process.stdin.isTTY) process.stderr.write('\n');
      resolve(answer);
    });
  });
}
