import t from 'tap';
import { NOT_A_FRAGMENT, classifyName, decodeFragment } from '../../src/fragments/index.js';

const utf16 = (text: string, bigEndian: boolean): Buffer => {
  const le = Buffer.from(`\ufeff${text}`, 'utf16le');
  return bigEndian ? le.swap16() : le;
};

t.test('UTF-8 is decoded, a leading byte order mark dropped (Windows editors write one; kubectl and containers/image skip it)', async (t) => {
  t.same(decodeFragment(Buffer.from('kind: Image\n'), 'yaml'), { text: 'kind: Image\n' });
  t.same(decodeFragment(Buffer.from('\ufeffa = 1\n'), 'toml'), { text: 'a = 1\n' });
  t.same(decodeFragment(Buffer.from([0x61, 0x0a, 0x23, 0xe9, 0x0a]), 'toml'), {
    problem: 'not valid UTF-8 text (the first byte that is not is on this line); save it as UTF-8',
    line: 2,
  });
});

t.test(
  'UTF-16 with a byte order mark (PowerShell 5 `>` writes it): read in YAML and JSON, as kubectl reads it; refused in TOML, as containers/image refuses it',
  async (t) => {
    const yaml = 'apiVersion: config.openshift.io/v1\nkind: Image\n# é\n';
    for (const bigEndian of [false, true]) {
      t.same(decodeFragment(utf16(yaml, bigEndian), 'yaml'), { text: yaml }, bigEndian ? 'big-endian' : 'little-endian');
      t.same(decodeFragment(utf16('a = 1\n', bigEndian), 'toml'), {
        problem: `UTF-16 text (byte order mark ${bigEndian ? 'FE FF' : 'FF FE'}); a TOML fragment must be UTF-8, as containers/image requires: save it as UTF-8`,
      });
    }
    t.same(
      decodeFragment(Buffer.concat([utf16('kind: Image\n', false), Buffer.from([0x00])]), 'yaml'),
      { problem: 'not valid UTF-16 text (it starts with a UTF-16 byte order mark)' },
      'an odd byte at the end',
    );
  },
);

t.test("package managers' and editors' leftovers beside a fragment are ignored by name, quietly (no warning)", async (t) => {
  // dpkg's conffile handling (.dpkg-new, -old, -dist, -tmp, -bak), ucf's (Debian's tool for
  // configuration files not shipped as conffiles: .ucf-new, -old, -dist), rpm's.
  const leftovers = ['x.yaml.dpkg-new', 'x.yaml.dpkg-old', 'x.yaml.dpkg-dist', 'x.yaml.dpkg-tmp', 'x.yaml.dpkg-bak'];
  leftovers.push('x.yaml.ucf-new', 'x.yaml.ucf-old', 'x.yaml.ucf-dist', 'x.toml.rpmnew', 'x.toml.rpmsave', 'x.toml.rpmorig');
  for (const name of leftovers) {
    const cls = classifyName(name);
    t.ok('ignored' in cls && cls.ignored !== NOT_A_FRAGMENT, `${name}: ${JSON.stringify(cls)}`);
  }
  t.same(classifyName('x.yaml'), { format: 'yaml' });
});

t.test("a README (the one the package installs in /etc/mirror-policy.d, or an operator's notes in a git work tree) is ignored quietly", async (t) => {
  for (const name of ['README', 'README.md', 'README.txt', 'readme.md', 'README.rst']) {
    const cls = classifyName(name);
    t.ok('ignored' in cls && cls.ignored !== NOT_A_FRAGMENT, `${name}: ${JSON.stringify(cls)}`);
  }
  // Only a README: other names that are no fragment are still warned about (a fragment saved as x.yam).
  for (const name of ['x.yam', 'README.yaml.bak', 'notes.txt']) t.same(classifyName(name), { ignored: NOT_A_FRAGMENT }, name);
  t.same(classifyName('README.yaml'), { format: 'yaml' }, 'a fragment that happens to be called README is still one');
});
