import t from 'tap';
import { error, formatDiagnostic, labelledDiagnostic, lazyLocation, unlabelledDiagnostic, warning } from '../../src/core/diagnostic.js';

t.test('a lazy location finds its line on the first read only, and reads like a plain one', async (t) => {
  let finds = 0;
  const at = lazyLocation('10-a.toml', () => {
    finds++;
    return { line: 3, col: 7 };
  });
  t.equal(finds, 0, 'nothing found before a read');
  t.equal(at.file, '10-a.toml');
  t.equal(at.line, 3);
  t.equal(at.col, 7);
  t.equal(finds, 1, 'found once');
  t.strictSame(at, { file: '10-a.toml', line: 3, col: 7 }, 'a plain object with file, line and col');
  t.strictSame({ ...at }, { file: '10-a.toml', line: 3, col: 7 }, 'a spread copies file, line and col, nothing else');
  t.same(Object.keys(at), ['file', 'line', 'col']);
  t.equal(JSON.stringify(at), '{"file":"10-a.toml","line":3,"col":7}');
  t.strictSame({ ...error(at, 'bad') }, { file: '10-a.toml', line: 3, col: 7, severity: 'error', message: 'bad' });
  t.equal(formatDiagnostic(error(at, 'bad')), '10-a.toml:3:7: bad');
  t.equal(finds, 1, 'still once');
  const other = lazyLocation('20-b.toml', () => ({ line: 1, col: 2 }));
  t.same([other.line, other.col, at.line], [1, 2, 3], 'each location its own position');
});

t.test('a password in a value a diagnostic quotes (user:pass@host, scheme://user:pass@host) is masked; a tag and digest are not', async (t) => {
  t.equal(
    error({ file: 'a.toml' }, 'invalid format for mirror "puller:S3CRET@mirror.example/a" of source "quay.io/a"').message,
    'invalid format for mirror "puller:***@mirror.example/a" of source "quay.io/a"',
  );
  t.equal(
    warning({ file: 'b.yaml' }, 'invalid format for source "https://u:S3CRET2@quay.io/b"').message,
    'invalid format for source "https://u:***@quay.io/b"',
  );
  t.equal(error({ file: 'c' }, 'proxy http://u:p%40ss@proxy:3128 refused').message, 'proxy http://u:***@proxy:3128 refused');
  const digest = `sha256:${'a'.repeat(64)}`;
  for (const kept of [`mirror "busybox:1.36@${digest}"`, `"quay.io/a:tag@${digest}"`, 'an @ alone', 'user@host without a password'])
    t.equal(error({ file: 'd' }, kept).message, kept, `kept: ${kept}`);
});

t.test('labels: a warning says so in formatDiagnostic, an error in labelledDiagnostic, neither unlabelled (a log level says it)', async (t) => {
  const at = { file: '10-a.toml', line: 3, col: 7 };
  t.equal(formatDiagnostic(warning(at, 'odd')), '10-a.toml:3:7: warning: odd');
  t.equal(labelledDiagnostic(error(at, 'bad')), '10-a.toml:3:7: error: bad');
  t.equal(unlabelledDiagnostic(warning(at, 'odd')), '10-a.toml:3:7: odd');
  t.equal(unlabelledDiagnostic(error(at, 'bad')), '10-a.toml:3:7: bad');
});
