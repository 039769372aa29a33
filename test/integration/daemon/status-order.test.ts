/**
 * `status` describes the output as it stands: a fragment is listed once the output holds what
 * it adds, not while the write that puts it there is still under way (status once recorded a
 * render's fragments before its write landed, so a reader could see a fragment listed and not
 * find it in the file). The daemon runs in this process; a loop asks its status at every turn
 * of the event loop, between the write's steps, while fragments are added.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon } from '../../../src/daemon/daemon.js';
import { createLogger } from '../../../src/core/log.js';
import { createNotifier } from '../../../src/systemd/notify.js';
import { fragment, inProcessConfig, pollUntil, replaceFile, workspace } from '../../helpers/daemon.js';

const ADDED = 8;

t.test('a fragment is listed by status only once the output holds it', async (t) => {
  const ws = workspace(t);
  replaceFile(join(ws.policy, '00-first.toml'), fragment('first.example.com/a', ['mirror.example.net/a']));
  const daemon = new Daemon(inProcessConfig(ws), createLogger({ level: 'silent' }), createNotifier({}), undefined);
  t.teardown(() => daemon.stop());
  await daemon.start();

  const listed = (name: string): boolean => daemon.status().fragments.some((f) => f.file.endsWith(name));
  const early: string[] = [];
  let asked = 0;
  let watching = true;
  const watch = (): void => {
    if (!watching) return;
    asked++;
    for (let i = 1; i <= ADDED; i++) {
      const name = `${String(i).padStart(2, '0')}-added.toml`;
      if (listed(name) && !readFileSync(ws.output, 'utf8').includes(`added${i}.example.com`)) early.push(name);
    }
    setImmediate(watch);
  };
  watch();
  t.teardown(() => {
    watching = false;
  });

  for (let i = 1; i <= ADDED; i++) {
    const name = `${String(i).padStart(2, '0')}-added.toml`;
    replaceFile(join(ws.policy, name), fragment(`added${i}.example.com/x`, [`mirror.example.net/x${i}`]));
    await pollUntil(() => listed(name), `${name} listed by status`);
  }
  watching = false;
  t.ok(asked > ADDED, `status asked between the writes' steps (${asked} times)`);
  t.same([...new Set(early)], [], 'no fragment listed while the output did not hold it');
  for (let i = 1; i <= ADDED; i++) t.match(readFileSync(ws.output, 'utf8'), `added${i}.example.com`);
});
