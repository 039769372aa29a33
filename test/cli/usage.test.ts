/** The --help texts fit the width they are wrapped at, every command's. */
import t from 'tap';
import { usage } from '../../src/cli/usage.js';

const WIDTH = 88;
const COMMANDS = ['main', ...[...usage().matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string)];

t.test(`every line of every --help is at most ${WIDTH} characters`, async (t) => {
  t.equal(COMMANDS.length, 10, 'the main help and the nine commands');
  for (const command of COMMANDS) {
    const long = usage(command)
      .split('\n')
      .filter((line) => [...line].length > WIDTH);
    t.same(long, [], `${command} --help`);
  }
});
