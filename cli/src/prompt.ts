import { createInterface } from 'node:readline';

/** Read a line without echoing it (on a TTY); from stdin as is otherwise. */
export function readSecret(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
    if (process.stdin.isTTY) {
      process.stderr.write(prompt);
      // readline has no "no echo" option; silencing its output writer is the usual way.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    }
    rl.question('', (answer) => {
      rl.close();
      if (process.stdin.isTTY) process.stderr.write('\n');
      resolve(answer);
    });
  });
}
