/**
 * The logger's last guard: whatever a call site passes, a password in a URL, an Authorization
 * header's value or a bearer token never reaches a log line, in either format.
 */
import t from 'tap';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/core/log.js';

const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwdWxsZXIifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

for (const format of ['pretty', 'json'] as const) {
  t.test(`${format}: credentials in a message or a field are masked`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mpd-log-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const fd = openSync(join(dir, 'log'), 'w');
    const log = createLogger({ format, fd, journal: false, level: 'debug' });
    log.error(
      { stderr: `curl: (22) https://puller:S3CRET-1@mirror.example/v2/ 401`, command: ['curl', '-H', `Authorization: Bearer ${token}`] },
      `after-render: curl -H Authorization: Bearer ${token} -u puller:S3CRET-2@x https://mirror.example: failed`,
    );
    log.warn(`proxy-authorization: Basic cHJveHl1c2VyOnByb3h5LXNlY3JldA== refused`);
    log.debug({ headers: { authorization: 'opaque-SECRETVALUE', 'Proxy-Authorization': 'Negotiate SECRETNEGO' } }, 'request');
    log.info(`manifest sha256:${'a'.repeat(64)} from quay.io/app:v1@sha256:${'b'.repeat(64)}: the bearer challenge's realm`);
    closeSync(fd);
    const text = readFileSync(join(dir, 'log'), 'utf8');
    t.notMatch(text, /S3CRET|eyJhbGci|cHJveHl1c2Vy|SECRETVALUE|SECRETNEGO/, 'no password, token or basic credentials');
    t.match(text, 'puller:***@');
    t.match(text, /Bearer \*\*\*/);
    t.match(text, `quay.io/app:v1@sha256:${'b'.repeat(64)}`, 'a reference with a tag and digest is left alone');
    t.match(text, "the bearer challenge's realm", 'ordinary words are left alone');
  });
}

t.test('a secret quoted in a message ends at its closing quote: the masked record is still JSON (and so a pretty line)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const format of ['json', 'pretty'] as const) {
    const fd = openSync(join(dir, format), 'w');
    const log = createLogger({ format, fd, journal: false, level: 'debug' });
    log.warn('invalid mirror "mirror.example/?token=abc123" of source "quay.io/a"');
    log.warn({ header: 'authorization: "Bearer xyz789"' }, 'request');
    log.warn('odd value "x?sig=a\\\\b\\"c" in a quote');
    closeSync(fd);
  }
  const json = readFileSync(join(dir, 'json'), 'utf8').trim().split('\n');
  t.equal(json.length, 3);
  for (const line of json) t.doesNotThrow(() => void JSON.parse(line), line);
  t.match(JSON.parse(json[0] as string), { msg: 'invalid mirror "mirror.example/?token=***" of source "quay.io/a"' });
  t.match(JSON.parse(json[1] as string), { header: 'authorization: "Bearer ***"' });
  t.notMatch(json.join('\n'), /abc123|xyz789|a\\\\b|b\\"c/);
  const pretty = readFileSync(join(dir, 'pretty'), 'utf8').trim().split('\n');
  t.same(
    pretty.map((l) => l.slice(0, 6)),
    ['WARN: ', 'WARN: ', 'WARN: '],
    'each a pretty line, not the raw record',
  );
});
