// Table-driven tests for src/reference/reference.ts. Vectors are ported from
// github.com/distribution/reference (reference_test.go, normalize_test.go,
// regexp_test.go at v0.6.x) unless a row says "extra". Upstream rows that call
// Parse / WithName / ParseAnyReference (not part of our API) are ported to
// parseNormalizedNamed with the normalised result that upstream gives.
import t from 'tap';
import fc from 'fast-check';
import {
  InvalidReferenceError,
  familiarString,
  isCanonicalRepositoryName,
  isDomain,
  isPlainCanonicalName,
  parseContainersImage,
  parseNamed,
  parseNamedContainersImage,
  parseNormalizedNamed,
  referenceName,
  referenceString,
  splitDomain,
  type ImageReference,
} from '../../src/reference/reference.js';

// Upstream error texts.
const FORMAT = 'invalid reference format';
const UPPER = 'invalid reference format: repository name must be lowercase';
const TOO_LONG = 'repository name must not be more than 255 characters';
const NOT_CANONICAL = 'repository name must be canonical';
const D_FORMAT = 'invalid checksum digest format';
const D_LENGTH = 'invalid checksum digest length';
const D_UNSUPPORTED = 'unsupported digest algorithm';
const hexId = (s: string) => `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`;

const F64 = 'f'.repeat(64);
const SHA256_F = `sha256:${F64}`;
const SHA512_F = `sha512:${'f'.repeat(128)}`;
const BE17 = 'sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912';
const DBCC_HEX = 'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const DBCC = `sha256:${DBCC_HEX}`;
const E669 = 'sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582';
const ID_1A3F = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';
const ID_DA30 = 'da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821';
const LONG_NS =
  'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255';

type Want = { domain: string; path: string; tag?: string; digest?: string };
type Row = { name: string; input: string } & ({ want: Want } | { err: string });

const ok = (name: string, input: string, domain: string, path: string, tag?: string, digest?: string): Row => ({
  name,
  input,
  want: { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) },
});
const bad = (name: string, input: string, err: string): Row => ({ name, input, err });
const hub = (name: string, input: string, path: string, tag?: string, digest?: string) => ok(name, input, 'docker.io', path, tag, digest);

// parseNormalizedNamed rows. Each success row is also checked against
// parseNamed (accepted iff the input is already canonical) and for a stable
// round trip; each failure row must fail parseNamed with the same error.
const normalizeRows: Row[] = [
  // reference_test.go TestReferenceParse (Parse vectors, normalised)
  hub('bare name with underscore goes to docker.io/library', 'test_com', 'library/test_com'),
  hub('dotted single component is a name, ":tag" its tag', 'test.com:tag', 'library/test.com', 'tag'),
  hub('dotted single component ":5000" is a tag, not a port', 'test.com:5000', 'library/test.com', '5000'),
  ok('dotted first component is a domain', 'test.com/repo:tag', 'test.com', 'repo', 'tag'),
  ok('host:port domain without dot', 'test:5000/repo', 'test:5000', 'repo'),
  ok('host:port domain with tag', 'test:5000/repo:tag', 'test:5000', 'repo', 'tag'),
  ok('host:port domain with sha256 digest', `test:5000/repo@${SHA256_F}`, 'test:5000', 'repo', undefined, SHA256_F),
  ok('tag and digest together are both kept', `test:5000/repo:tag@${SHA256_F}`, 'test:5000', 'repo', 'tag', SHA256_F),
  bad('empty string', '', FORMAT),
  bad('tag without name', ':justtag', FORMAT),
  bad('digest without name', `@${SHA256_F}`, FORMAT),
  bad('sha256 digest of 34 hex is a length error', `repo@sha256:${'f'.repeat(34)}`, D_LENGTH),
  bad('unknown digest algorithm is unsupported', `validname@invaliddigest:${F64}`, D_UNSUPPORTED),
  bad('uppercase single-component name', 'Uppercase:tag', UPPER),
  bad('uppercase path component after a domain', 'test:5000/Uppercase/lowercase:tag', UPPER),
  hub('uppercase is fine in a tag', 'lowercase:Uppercase', 'library/lowercase', 'Uppercase'),
  bad('path of 257 characters is too long', `${'a/'.repeat(128)}a:tag`, TOO_LONG),
  bad('path of 263 characters is too long', `domain/${'a'.repeat(256)}:tag`, TOO_LONG),
  hub(
    'path of exactly 255 characters, long tag does not count',
    `${'a/'.repeat(127)}a:tag-puts-this-over-max`,
    `${'a/'.repeat(127)}a`,
    'tag-puts-this-over-max',
  ),
  ok('255-character path after a domain (domain not counted since v0.6.0)', `example.com/${'a'.repeat(255)}:tag`, 'example.com', 'a'.repeat(255), 'tag'),
  bad('domain + 256-character path is too long', `example.com/${'a'.repeat(256)}`, TOO_LONG),
  bad('punctuation in a path component', 'aa/asdf$$^/aa', FORMAT),
  ok('hyphenated subdomain, nested path', 'sub-dom1.foo.com/bar/baz/quux', 'sub-dom1.foo.com', 'bar/baz/quux'),
  ok('hyphenated subdomain with tag', 'sub-dom1.foo.com/bar/baz/quux:some-long-tag', 'sub-dom1.foo.com', 'bar/baz/quux', 'some-long-tag'),
  ok('dots in path components and tag', 'b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io', 'test.example.com/my-app', 'test.example.com'),
  ok('punycode domain and tag', 'xn--n3h.com/myimage:xn--n3h.com', 'xn--n3h.com', 'myimage', 'xn--n3h.com'),
  ok('punycode domain, tag and sha512 digest', `xn--7o8h.com/myimage:xn--7o8h.com@${SHA512_F}`, 'xn--7o8h.com', 'myimage', 'xn--7o8h.com', SHA512_F),
  hub('underscore "domain" without slash is a name with tag', 'foo_bar.com:8080', 'library/foo_bar.com', '8080'),
  hub('undotted first component is a namespace', 'foo/foo_bar.com:8080', 'foo/foo_bar.com', '8080'),
  hub('IPv4 without slash is a name', '192.168.1.1', 'library/192.168.1.1'),
  hub('IPv4 without slash with tag', '192.168.1.1:tag', 'library/192.168.1.1', 'tag'),
  hub('IPv4 without slash: ":5000" is a tag', '192.168.1.1:5000', 'library/192.168.1.1', '5000'),
  ok('IPv4 domain', '192.168.1.1/repo', '192.168.1.1', 'repo'),
  ok('IPv4 domain with port', '192.168.1.1:5000/repo', '192.168.1.1:5000', 'repo'),
  ok('IPv4 domain with port and numeric tag', '192.168.1.1:5000/repo:5050', '192.168.1.1:5000', 'repo', '5050'),
  bad('bare bracketed IPv6', '[2001:db8::1]', FORMAT),
  bad('bare bracketed IPv6 with port', '[2001:db8::1]:5000', FORMAT),
  bad('bare bracketed IPv6 with tag', '[2001:db8::1]:tag', FORMAT),
  ok('IPv6 domain', '[2001:db8::1]/repo', '[2001:db8::1]', 'repo'),
  ok('uncompressed IPv6 domain with tag', '[2001:db8:1:2:3:4:5:6]/repo:tag', '[2001:db8:1:2:3:4:5:6]', 'repo', 'tag'),
  ok('IPv6 domain with port', '[2001:db8::1]:5000/repo', '[2001:db8::1]:5000', 'repo'),
  ok('IPv6 domain with port and tag', '[2001:db8::1]:5000/repo:tag', '[2001:db8::1]:5000', 'repo', 'tag'),
  ok('IPv6 domain with port and digest', `[2001:db8::1]:5000/repo@${SHA256_F}`, '[2001:db8::1]:5000', 'repo', undefined, SHA256_F),
  ok('IPv6 domain with port, tag and digest', `[2001:db8::1]:5000/repo:tag@${SHA256_F}`, '[2001:db8::1]:5000', 'repo', 'tag', SHA256_F),
  ok('IPv6 ending in "::" with port', '[2001:db8::]:5000/repo', '[2001:db8::]:5000', 'repo'),
  ok('IPv6 loopback with port', '[::1]:5000/repo', '[::1]:5000', 'repo'),
  bad('IPv6 zone id is rejected', '[fe80::1%eth0]:5000/repo', FORMAT),
  bad('IPv6 zone id containing "@" is rejected', '[fe80::1%@invalidzone]:5000/repo', FORMAT),
  // reference_test.go TestSerialization, TestParseNamed (canonical inputs)
  ok('domain with port, plain name', 'example.com:8000/named', 'example.com:8000', 'named'),
  ok('domain with port, tagged', 'example.com:8000/named:tagged', 'example.com:8000', 'named', 'tagged'),
  ok(
    'digest with mixed digits',
    'other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112',
    'other.com',
    'named',
    undefined,
    'sha256:1234567890098765432112345667890098765432112345667890098765432112',
  ),
  ok('canonical dotted domain', 'test.com/foo', 'test.com', 'foo'),
  ok('canonical host:port', 'test:8080/foo', 'test:8080', 'foo'),
  ok('canonical hyphenated host:port', 'test-com:8080/foo', 'test-com:8080', 'foo'),
  ok('canonical punycode host:port', 'xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo'),
  hub('bare "test.com" is a Docker Hub name', 'test.com', 'library/test.com'),
  hub('bare name gets library/', 'foo', 'library/foo'),
  hub('library/ namespace on Docker Hub', 'library/foo', 'library/foo'),
  hub('canonical Docker Hub name', 'docker.io/library/foo', 'library/foo'),
  hub('docker.io/foo is normalised to docker.io/library/foo', 'docker.io/foo', 'library/foo'),
  // normalize_test.go TestValidateReferenceName
  hub('two-level Docker Hub name', 'docker/docker', 'docker/docker'),
  hub('library/debian', 'library/debian', 'library/debian'),
  hub('debian', 'debian', 'library/debian'),
  hub('docker.io with namespace', 'docker.io/docker/docker', 'docker/docker'),
  hub('docker.io/library/debian', 'docker.io/library/debian', 'library/debian'),
  hub('docker.io/debian gets library/', 'docker.io/debian', 'library/debian'),
  hub('index.docker.io becomes docker.io', 'index.docker.io/docker/docker', 'docker/docker'),
  hub('index.docker.io/library/debian', 'index.docker.io/library/debian', 'library/debian'),
  hub('index.docker.io/debian gets library/', 'index.docker.io/debian', 'library/debian'),
  ok('IPv4:port, two-level path', '127.0.0.1:5000/docker/docker', '127.0.0.1:5000', 'docker/docker'),
  ok('IPv4:port keeps library/ as given', '127.0.0.1:5000/library/debian', '127.0.0.1:5000', 'library/debian'),
  ok('no library/ added off Docker Hub', '127.0.0.1:5000/debian', '127.0.0.1:5000', 'debian'),
  hub('bare IPv4 is a Docker Hub name', '192.168.0.1', 'library/192.168.0.1'),
  hub('bare IPv4:80 is name:tag', '192.168.0.1:80', 'library/192.168.0.1', '80'),
  ok('one-digit port', '192.168.0.1:8/debian', '192.168.0.1:8', 'debian'),
  ok('five-digit port', '192.168.0.2:25000/debian', '192.168.0.2:25000', 'debian'),
  hub(
    '64-character non-hex name is allowed',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  ),
  ok('IPv6:port domain', '[fc00::1]:5000/docker', '[fc00::1]:5000', 'docker'),
  ok('IPv6:port domain, two-level path', '[fc00::1]:5000/docker/docker', '[fc00::1]:5000', 'docker/docker'),
  ok('full IPv6:port domain', '[fc00:1:2:3:4:5:6:7]:5000/library/debian', '[fc00:1:2:3:4:5:6:7]:5000', 'library/debian'),
  hub('64-hex path is fine once a domain is given', `docker.io/${ID_1A3F}`, `library/${ID_1A3F}`),
  ok('capitalised first component is taken as a domain', 'Docker/docker', 'Docker', 'docker'),
  ok('all-caps first component is taken as a domain', 'DOCKER/docker', 'DOCKER', 'docker'),
  bad('URL is not a reference', 'https://github.com/docker/docker', FORMAT),
  bad('uppercase in repository', 'docker/Docker', UPPER),
  bad('leading hyphen', '-docker', FORMAT),
  bad('leading hyphen in namespace', '-docker/docker', FORMAT),
  bad('leading hyphen in domain', '-docker.io/docker/docker', FORMAT),
  bad('empty path components', 'docker///docker', FORMAT),
  bad('uppercase after docker.io', 'docker.io/docker/Docker', UPPER),
  bad('empty path components after docker.io', 'docker.io/docker///docker', FORMAT),
  bad('bracketed IPv6 alone', '[fc00::1]', FORMAT),
  bad('bracketed IPv6:port alone', '[fc00::1]:5000', FORMAT),
  bad('IPv6 without brackets', 'fc00::1:5000/debian', FORMAT),
  bad('IPv6 zone id', '[fe80::1%eth0]:5000/debian', FORMAT),
  bad('IPv4-mapped IPv6', '[2001:db8:3:4::192.0.2.33]:5000/debian', FORMAT),
  bad('64-hex image id is refused as a name', ID_1A3F, hexId(ID_1A3F)),
  // normalize_test.go TestValidateRemoteName
  hub('hyphen inside a component', 'docker-rules/docker', 'docker-rules/docker'),
  hub('repeated hyphens', 'docker---rules/docker', 'docker---rules/docker'),
  hub('short namespace', 'doc/docker', 'doc/docker'),
  hub('one-letter namespace', 'd/docker', 'd/docker'),
  hub('one-letter repository', 'jess/t', 'jess/t'),
  hub('double underscore separator', 'dock__er/docker', 'dock__er/docker'),
  bad('trailing hyphen in namespace', 'docker-/docker', FORMAT),
  bad('leading and trailing hyphen', '-docker-/docker', FORMAT),
  bad('only underscores', '____/____', FORMAT),
  bad('leading underscore', '_docker/_docker', FORMAT),
  bad('double dot', 'dock..er/docker', FORMAT),
  bad('underscore then dot', 'dock_.er/docker', FORMAT),
  bad('hyphen then dot', 'dock-.er/docker', FORMAT),
  bad('trailing slash', 'docker/', FORMAT),
  bad('namespace over 255 characters', `${LONG_NS}/docker`, TOO_LONG),
  // normalize_test.go TestParseReferenceWithTagAndDigest, TestInvalidReferenceComponents
  hub(
    'familiar name with tag and digest',
    `busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa`,
    'library/busybox',
    'latest',
    'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
  ),
  bad('leading hyphen in familiar name', '-foo', FORMAT),
  // normalize_test.go TestParseAnyReference (name forms)
  hub('redis', 'redis', 'library/redis'),
  hub('redis:latest', 'redis:latest', 'library/redis', 'latest'),
  hub('canonical redis:latest', 'docker.io/library/redis:latest', 'library/redis', 'latest'),
  hub('familiar name with digest', `redis@${DBCC}`, 'library/redis', undefined, DBCC),
  hub('canonical name with digest', `docker.io/library/redis@${DBCC}`, 'library/redis', undefined, DBCC),
  hub('user repository', 'dmcgowan/myapp', 'dmcgowan/myapp'),
  hub('user repository with tag', 'dmcgowan/myapp:latest', 'dmcgowan/myapp', 'latest'),
  hub('docker.io user repository with tag', 'docker.io/mcgowan/myapp:latest', 'mcgowan/myapp', 'latest'),
  hub('user repository with digest', `dmcgowan/myapp@${DBCC}`, 'dmcgowan/myapp', undefined, DBCC),
  hub('docker.io user repository with digest', `docker.io/dmcgowan/myapp@${DBCC}`, 'dmcgowan/myapp', undefined, DBCC),
  bad('64-hex id (a digest for ParseAnyReference) is not a name', DBCC_HEX, hexId(DBCC_HEX)),
  hub('bare "sha256:<hex>" reads as name "sha256" with a 64-char tag', DBCC, 'library/sha256', DBCC_HEX),
  hub('63-hex string is a name', DBCC_HEX.slice(0, 63), `library/${DBCC_HEX.slice(0, 63)}`),
  hub('short hex string is a name', 'dbcc1', 'library/dbcc1'),
  // normalize_test.go TestNormalizedSplitHostname
  hub('underscore component is not a domain', 'test_com/foo', 'test_com/foo'),
  hub('namespace is not a domain', 'docker/migrator', 'docker/migrator'),
  ok('punycode domain', 'xn--n3h.com/foo', 'xn--n3h.com', 'foo'),
  hub('library/foo/bar is kept', 'docker.io/library/foo/bar', 'library/foo/bar'),
  // normalize_test.go TestParseDockerRef (inputs; we do not add ":latest")
  hub('digest only', `busybox@${E669}`, 'library/busybox', undefined, E669),
  hub('path only', 'library/busybox', 'library/busybox'),
  hub('hostname only', 'docker.io/busybox', 'library/busybox'),
  hub('no path', 'docker.io/busybox:latest', 'library/busybox', 'latest'),
  hub('no hostname', 'library/busybox:latest', 'library/busybox', 'latest'),
  ok('gcr keeps library/ and no tag', 'gcr.io/library/busybox', 'gcr.io', 'library/busybox'),
  ok('gcr with tag and digest keeps both', `gcr.io/library/busybox:latest@${E669}`, 'gcr.io', 'library/busybox', 'latest', E669),
  // regexp_test.go TestFullNameRegexp (name regexp vectors, normalised)
  hub('single short name', 'short', 'library/short'),
  hub('two components', 'simple/name', 'simple/name'),
  hub('three components', 'docker/stevvooe/app', 'docker/stevvooe/app'),
  hub('fifteen components', 'aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb', 'aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb'),
  hub('five components', 'aa/aa/bb/bb/bb', 'aa/aa/bb/bb/bb'),
  hub('one-letter components', 'a/a/a/a', 'a/a/a/a'),
  bad('trailing slash after components', 'a/a/a/a/', FORMAT),
  bad('double slash', 'a//a/a', FORMAT),
  hub('one letter', 'a', 'library/a'),
  hub('one letter namespace, two-letter name', 'a/aa', 'a/aa'),
  hub('three short components', 'a/aa/a', 'a/aa/a'),
  hub('bare dotted name', 'foo.com', 'library/foo.com'),
  bad('domain with empty path', 'foo.com/', FORMAT),
  ok('domain with port', 'foo.com:8080/bar', 'foo.com:8080', 'bar'),
  bad('non-numeric port', 'foo.com:http/bar', FORMAT),
  ok('domain and one component', 'foo.com/bar', 'foo.com', 'bar'),
  ok('domain and two components', 'foo.com/bar/baz', 'foo.com', 'bar/baz'),
  ok('localhost with port', 'localhost:8080/bar', 'localhost:8080', 'bar'),
  ok('three-label domain', 'blog.foo.com/bar/baz', 'blog.foo.com', 'bar/baz'),
  bad('caret in a name', 'a^a', FORMAT),
  bad('punctuation in first component', 'asdf$$^/aa', FORMAT),
  hub('hyphen in namespace', 'aa-a/a', 'aa-a/a'),
  bad('257-char name matches the name grammar but is too long', `${'a/'.repeat(128)}a`, TOO_LONG),
  bad('trailing hyphen in first component', 'a-/a/a/a', FORMAT),
  bad('trailing hyphen after domain', 'foo.com/a-/a/a', FORMAT),
  bad('leading hyphen (name grammar)', '-foo/bar', FORMAT),
  bad('trailing hyphen in last component', 'foo/bar-', FORMAT),
  bad('trailing hyphen in namespace (name grammar)', 'foo-/bar', FORMAT),
  bad('leading hyphen in last component', 'foo/-bar', FORMAT),
  bad('leading underscore (name grammar)', '_foo/bar', FORMAT),
  hub('underscore name', 'foo_bar', 'library/foo_bar'),
  hub('underscore dotted name', 'foo_bar.com', 'library/foo_bar.com'),
  bad('underscore is not allowed in a domain', 'foo_bar.com:8080/app', FORMAT),
  ok('underscore allowed in path', 'foo.com/foo_bar', 'foo.com', 'foo_bar'),
  bad('trailing underscores', 'docker_/docker_', FORMAT),
  ok('dotted domain-like namespace', 'example.com/xn--7o8h.com/myimage', 'example.com', 'xn--7o8h.com/myimage'),
  ok('single and double underscore separators', 'example.com/some_separator__underscore/myimage', 'example.com', 'some_separator__underscore/myimage'),
  bad('leading double underscore', 'example.com/__underscore/myimage', FORMAT),
  bad('leading double dot', 'example.com/..dots/myimage', FORMAT),
  bad('leading dot', 'example.com/.dots/myimage', FORMAT),
  bad('double dot inside', 'example.com/nodouble..dots/myimage', FORMAT),
  bad('trailing dot in domain', 'docker./docker', FORMAT),
  bad('leading dot in domain', '.docker/docker', FORMAT),
  bad('double dot in domain', 'do..cker/docker', FORMAT),
  bad('double underscore in a domain', 'do__cker:8080/docker', FORMAT),
  hub('double underscore namespace', 'do__cker/docker', 'do__cker/docker'),
  ok(
    'multiple hyphens and dots in path',
    'registry.io/foo/project--id.module--name.ver---sion--name',
    'registry.io',
    'foo/project--id.module--name.ver---sion--name',
  ),
  ok('uppercase in domain is allowed', 'Asdf.com/foo/bar', 'Asdf.com', 'foo/bar'),
  bad('uppercase in remote name', 'Foo/FarB', UPPER),
  // regexp_test.go TestReferenceRegexp
  ok('domain:port, tag', 'registry.com:8080/myapp:tag', 'registry.com:8080', 'myapp', 'tag'),
  ok('domain:port, digest', `registry.com:8080/myapp@${BE17}`, 'registry.com:8080', 'myapp', undefined, BE17),
  ok('domain:port, tag and digest', `registry.com:8080/myapp:tag2@${BE17}`, 'registry.com:8080', 'myapp', 'tag2', BE17),
  bad('digest under 32 hex', 'registry.com:8080/myapp@sha256:badbadbadbad', FORMAT),
  bad('tilde in tag', 'registry.com:8080/myapp:invalid~tag', FORMAT),
  bad('underscore hostname with port', 'bad_hostname.com:8080/myapp:tag', FORMAT),
  hub('"localhost:8080" without slash is name:tag', `localhost:8080@${BE17}`, 'library/localhost', '8080', BE17),
  ok('localhost:port with digest', `localhost:8080/name@${BE17}`, 'localhost:8080', 'name', undefined, BE17),
  bad('localhost with non-numeric port', `localhost:http/name@${BE17}`, FORMAT),
  hub('bare localhost is a name', `localhost@${BE17}`, 'library/localhost', undefined, BE17),
  bad('digest without algorithm', 'registry.com:8080/myapp@bad', FORMAT),
  bad('digest algorithm starting with a digit', 'registry.com:8080/myapp@2bad', FORMAT),
  // regexp_test.go TestIdentifierRegexp
  bad('64 lowercase hex is an id', ID_DA30, hexId(ID_DA30)),
  bad('64 uppercase hex is not an id but is uppercase', '7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C', UPPER),
  hub('60 hex is a name', ID_DA30.slice(0, 60), `library/${ID_DA30.slice(0, 60)}`),
  hub('sha256:<id> is name "sha256" with tag', `sha256:${ID_DA30}`, 'library/sha256', ID_DA30),
  hub('68 hex is a name', `${ID_DA30}8482`, `library/${ID_DA30}8482`),
  // extra: digest validation as in go-digest
  ok('extra: sha384 with 96 hex', `quay.io/a/b@sha384:${'a'.repeat(96)}`, 'quay.io', 'a/b', undefined, `sha384:${'a'.repeat(96)}`),
  bad('extra: sha256 with 128 hex', `quay.io/a/b@sha256:${'a'.repeat(128)}`, D_LENGTH),
  bad('extra: sha512 with 64 hex', `quay.io/a/b@sha512:${'a'.repeat(64)}`, D_LENGTH),
  bad('extra: sha384 with 64 hex', `quay.io/a/b@sha384:${'a'.repeat(64)}`, D_LENGTH),
  bad('extra: uppercase hex fits the grammar but not go-digest', `quay.io/a/b@sha256:${'A'.repeat(64)}`, D_FORMAT),
  bad('extra: uppercase algorithm after a tag is a go-digest format error', `quay.io/a/b:t@SHA256:${'a'.repeat(64)}`, D_FORMAT),
  // Upstream's lowercase pre-check looks at everything before the first ':', here "a/b@SHA256".
  bad('extra: uppercase algorithm without a tag trips the lowercase check', `quay.io/a/b@SHA256:${'a'.repeat(64)}`, UPPER),
  bad('extra: md5 is unsupported', `quay.io/a/b@md5:${'a'.repeat(32)}`, D_UNSUPPORTED),
  bad('extra: compound algorithm is unsupported', `quay.io/a/b@sha256+b64:${'a'.repeat(64)}`, D_UNSUPPORTED),
  bad('extra: 31 hex fails the grammar', `quay.io/a/b@md5:${'a'.repeat(31)}`, FORMAT),
  bad('extra: two digests', `quay.io/a/b@${SHA256_F}@${SHA256_F}`, FORMAT),
  // extra: tags
  ok('extra: 128-character tag', `quay.io/a/b:${'t'.repeat(128)}`, 'quay.io', 'a/b', 't'.repeat(128)),
  bad('extra: 129-character tag', `quay.io/a/b:${'t'.repeat(129)}`, FORMAT),
  ok('extra: tag may start with underscore', 'quay.io/a/b:_x', 'quay.io', 'a/b', '_x'),
  bad('extra: tag may not start with a dot', 'quay.io/a/b:.x', FORMAT),
  bad('extra: tag may not start with a hyphen', 'quay.io/a/b:-x', FORMAT),
  bad('extra: empty tag', 'quay.io/a/b:', FORMAT),
  bad('extra: two tags', 'quay.io/a/b:x:y', FORMAT),
  bad('extra: non-ASCII tag', 'quay.io/a/b:é', FORMAT),
  // extra: domains and normalisation
  ok('extra: localhost is always a domain', 'localhost/foo', 'localhost', 'foo'),
  ok('extra: host:port domain gets no library/', 'myregistry:5000/foo', 'myregistry:5000', 'foo'),
  hub('extra: index.docker.io with tag', 'index.docker.io/busybox:1.36', 'library/busybox', '1.36'),
  ok('extra: [::1]:5000 loopback', '[::1]:5000/foo', '[::1]:5000', 'foo'),
  ok('extra: [2001:db8::1] without port', '[2001:db8::1]/foo', '[2001:db8::1]', 'foo'),
  bad('extra: unclosed IPv6 bracket', '[::1:5000/foo', FORMAT),
  bad('extra: empty port', 'example.com:/foo', FORMAT),
  // Domain check passes on case, then the whole string only parses once lowercased.
  bad('extra: uppercase non-domain first component is a lowercase error', 'Foo_bar.com/x', UPPER),
  // Upstream quirk: "foo_bar.com" is taken as a domain by splitDockerDomain but is
  // not one by the grammar, while "foo_bar.com/app" is a valid path, so no domain.
  ok('extra: upstream quirk: underscore "domain" yields empty domain', 'foo_bar.com/app', '', 'foo_bar.com/app'),
];

// Throws InvalidReferenceError (by name; instanceof is checked separately) with exactly this message.
const error = (message: string) => ({ name: 'InvalidReferenceError', message });

const stringOf = (w: Want) => (w.domain === '' ? w.path : `${w.domain}/${w.path}`) + (w.tag ? `:${w.tag}` : '') + (w.digest ? `@${w.digest}` : '');

t.test('parseNormalizedNamed / parseNamed vectors', async (tt) => {
  for (const row of normalizeRows) {
    const label = `${row.name} [${row.input.length > 80 ? `${row.input.slice(0, 77)}...` : row.input}]`;
    if ('err' in row) {
      tt.throws(() => parseNormalizedNamed(row.input), error(row.err), `${label}: parseNormalizedNamed`);
      tt.throws(() => parseNamed(row.input), error(row.err), `${label}: parseNamed`);
      continue;
    }
    let r: ImageReference;
    try {
      r = parseNormalizedNamed(row.input);
    } catch (e) {
      tt.fail(`${label}: unexpected error ${(e as Error).message}`);
      continue;
    }
    tt.same({ ...r }, row.want, label);
    tt.strictSame(Object.keys(r).sort(), Object.keys(row.want).sort(), `${label}: no extra keys`);
    const canonical = stringOf(row.want);
    tt.equal(referenceString(r), canonical, `${label}: referenceString`);
    // Canonical output must parse back to the same thing with parseNamed.
    tt.same(parseNamed(canonical), r, `${label}: canonical round trip`);
    if (row.input === canonical) {
      tt.same(parseNamed(row.input), r, `${label}: parseNamed accepts canonical input`);
    } else {
      tt.throws(() => parseNamed(row.input), error(NOT_CANONICAL), `${label}: parseNamed rejects non-canonical`);
    }
  }
});

// normalize_test.go TestParseRepositoryInfo: each of familiar / full / ambiguous
// spellings must give the same domain, path, full and familiar strings.
const repoInfoRows: { name: string; path: string; familiar: string; full: string; ambiguous?: string; domain: string }[] = [
  { name: 'user repo', path: 'fooo/bar', familiar: 'fooo/bar', full: 'docker.io/fooo/bar', ambiguous: 'index.docker.io/fooo/bar', domain: 'docker.io' },
  { name: 'official image', path: 'library/ubuntu', familiar: 'ubuntu', full: 'docker.io/library/ubuntu', ambiguous: 'library/ubuntu', domain: 'docker.io' },
  { name: 'nonlibrary namespace', path: 'nonlibrary/ubuntu', familiar: 'nonlibrary/ubuntu', full: 'docker.io/nonlibrary/ubuntu', domain: 'docker.io' },
  { name: 'repository named library', path: 'other/library', familiar: 'other/library', full: 'docker.io/other/library', domain: 'docker.io' },
  {
    name: 'IPv4:port two-level',
    path: 'private/moonbase',
    familiar: '127.0.0.1:8000/private/moonbase',
    full: '127.0.0.1:8000/private/moonbase',
    domain: '127.0.0.1:8000',
  },
  { name: 'IPv4:port one-level', path: 'privatebase', familiar: '127.0.0.1:8000/privatebase', full: '127.0.0.1:8000/privatebase', domain: '127.0.0.1:8000' },
  { name: 'domain two-level', path: 'private/moonbase', familiar: 'example.com/private/moonbase', full: 'example.com/private/moonbase', domain: 'example.com' },
  { name: 'domain one-level', path: 'privatebase', familiar: 'example.com/privatebase', full: 'example.com/privatebase', domain: 'example.com' },
  {
    name: 'domain:port two-level',
    path: 'private/moonbase',
    familiar: 'example.com:8000/private/moonbase',
    full: 'example.com:8000/private/moonbase',
    domain: 'example.com:8000',
  },
  {
    name: 'domain:port one-level',
    path: 'privatebasee',
    familiar: 'example.com:8000/privatebasee',
    full: 'example.com:8000/privatebasee',
    domain: 'example.com:8000',
  },
  {
    name: 'official image with dots',
    path: 'library/ubuntu-12.04-base',
    familiar: 'ubuntu-12.04-base',
    full: 'docker.io/library/ubuntu-12.04-base',
    ambiguous: 'index.docker.io/library/ubuntu-12.04-base',
    domain: 'docker.io',
  },
  { name: 'docker.io/foo', path: 'library/foo', familiar: 'foo', full: 'docker.io/library/foo', ambiguous: 'docker.io/foo', domain: 'docker.io' },
  { name: 'nested library path stays', path: 'library/foo/bar', familiar: 'library/foo/bar', full: 'docker.io/library/foo/bar', domain: 'docker.io' },
  { name: 'three-level Hub path', path: 'store/foo/bar', familiar: 'store/foo/bar', full: 'docker.io/store/foo/bar', domain: 'docker.io' },
  { name: 'capitalised domain', path: 'bar', familiar: 'Foo/bar', full: 'Foo/bar', domain: 'Foo' },
  { name: 'all-caps domain', path: 'bar', familiar: 'FOO/bar', full: 'FOO/bar', domain: 'FOO' },
];

t.test('repository info: familiar, full and ambiguous spellings', async (tt) => {
  for (const row of repoInfoRows) {
    for (const input of [row.familiar, row.full, ...(row.ambiguous ? [row.ambiguous] : [])]) {
      const r = parseNormalizedNamed(input);
      const label = `${row.name} via ${input}`;
      tt.equal(r.domain, row.domain, `${label}: domain`);
      tt.equal(r.path, row.path, `${label}: path`);
      tt.equal(referenceName(r), row.full, `${label}: referenceName`);
      tt.equal(referenceString(r), row.full, `${label}: referenceString`);
      tt.equal(familiarString(r), row.familiar, `${label}: familiarString`);
    }
  }
});

t.test('familiarString keeps tag and digest', async (tt) => {
  const rows: [string, string, string][] = [
    ['TestParseReferenceWithTagAndDigest: tag and digest', `busybox:latest@${E669}`, `busybox:latest@${E669}`],
    ['extra: Hub user repo with tag', 'docker.io/user/app:1', 'user/app:1'],
    ['extra: no default tag added', 'docker.io/library/busybox', 'busybox'],
    ['extra: other registries unchanged', `quay.io/a/b:t@${E669}`, `quay.io/a/b:t@${E669}`],
  ];
  for (const [name, input, want] of rows) tt.equal(familiarString(parseNormalizedNamed(input)), want, name);
});

// regexp_test.go TestDomainRegexp (anchored domainAndPort), plus extras.
const domainRows: [string, string, boolean][] = [
  ['dotted name', 'test.com', true],
  ['dotted name with port', 'test.com:10304', true],
  ['named port is invalid', 'test.com:http', false],
  ['localhost', 'localhost', true],
  ['localhost with port', 'localhost:8080', true],
  ['single letter', 'a', true],
  ['two one-letter labels', 'a.b', true],
  ['three labels', 'ab.cd.com', true],
  ['hyphen inside a label', 'a-b.com', true],
  ['leading hyphen', '-ab.com', false],
  ['trailing hyphen in a label', 'ab-.com', false],
  ['hyphen inside the last label', 'ab.c-om', true],
  ['leading hyphen in the last label', 'ab.-com', false],
  ['trailing hyphen at the end', 'ab.com-', false],
  ['all-digit label', '0101.com', true],
  ['label starting with digits', '001a.com', true],
  ['subdomain with port 443', 'b.gbc.io:443', true],
  ['subdomain', 'b.gbc.io', true],
  ['punycode', 'xn--n3h.com', true],
  ['uppercase letters are allowed', 'Asdf.com', true],
  ['IPv4 with out-of-range port (not range-checked)', '192.168.1.1:75050', true],
  ['IPv4 with six-digit port (not range-checked)', '192.168.1.1:750050', true],
  ['compressed IPv6 with port', '[fd00:1:2::3]:75050', true],
  ['IPv6 port without colon', '[fd00:1:2::3]75050', false],
  ['IPv6 port with double colon', '[fd00:1:2::3]::75050', false],
  ['IPv6 zone id', '[fd00:1:2::3%eth0]:75050', false],
  ['malformed IPv6 still matches the grammar', '[fd00123123123]:75050', true],
  ['uncompressed IPv6 with port', '[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050', true],
  ['uncompressed IPv6 with six-digit port', '[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505', true],
  ['IPv6 without brackets', 'fd00:1:2::3:75050', false],
  ['extra: empty string', '', false],
  ['extra: IPv6 loopback', '[::1]', true],
  ['extra: IPv6 loopback with port', '[::1]:5000', true],
  ['extra: bare IPv6 loopback', '::1', false],
  ['extra: empty brackets', '[]', false],
  ['extra: IPv4-mapped IPv6', '[::ffff:192.0.2.1]', false],
  ['extra: trailing slash', 'example.com/', false],
  ['extra: empty port', 'example.com:', false],
  ['extra: empty label', 'example..com', false],
  ['extra: trailing dot', 'example.com.', false],
  ['extra: underscore', 'foo_bar.com', false],
  ['extra: two ports', 'example.com:80:90', false],
  ['extra: text after IPv6 bracket', '[::1]x', false],
];

t.test('isDomain', async (tt) => {
  for (const [name, input, want] of domainRows) tt.equal(isDomain(input), want, `${name} [${input}]`);
});

// splitDockerDomain (normalize.go); remainder keeps any tag/digest.
const splitRows: [string, string, string, string][] = [
  ['familiar name gets library/', 'foo', 'docker.io', 'library/foo'],
  ['familiar name keeps its tag', 'foo:tag', 'docker.io', 'library/foo:tag'],
  ['bare localhost is a Hub name (upstream FIXME)', 'localhost', 'docker.io', 'library/localhost'],
  ['bare example.com is a Hub name (upstream FIXME)', 'example.com', 'docker.io', 'library/example.com'],
  ['dotted first component', 'test.com/foo', 'test.com', 'foo'],
  ['underscore first component is a namespace', 'test_com/foo', 'docker.io', 'test_com/foo'],
  ['namespace', 'docker/migrator', 'docker.io', 'docker/migrator'],
  ['host:port', 'test.com:8080/foo', 'test.com:8080', 'foo'],
  ['hyphenated host:port', 'test-com:8080/foo', 'test-com:8080', 'foo'],
  ['punycode', 'xn--n3h.com/foo', 'xn--n3h.com', 'foo'],
  ['docker.io single component gets library/', 'docker.io/foo', 'docker.io', 'library/foo'],
  ['docker.io/library kept', 'docker.io/library/foo', 'docker.io', 'library/foo'],
  ['docker.io nested kept', 'docker.io/library/foo/bar', 'docker.io', 'library/foo/bar'],
  ['index.docker.io becomes docker.io', 'index.docker.io/foo', 'docker.io', 'library/foo'],
  ['index.docker.io namespace', 'index.docker.io/user/foo', 'docker.io', 'user/foo'],
  ['localhost', 'localhost/foo', 'localhost', 'foo'],
  ['localhost:port', 'localhost:5000/foo:t', 'localhost:5000', 'foo:t'],
  ['IPv6 with port', '[::1]:5000/foo', '[::1]:5000', 'foo'],
  ['uppercase first component is a domain', 'Docker/docker', 'Docker', 'docker'],
  ['other domain: no library/', 'quay.io/foo', 'quay.io', 'foo'],
  ['not validated: colon makes a domain', 'https://x', 'https:', '/x'],
];

t.test('splitDomain', async (tt) => {
  for (const [name, input, domain, remainder] of splitRows) {
    tt.same(splitDomain(input), { domain, remainder }, `${name} [${input}]`);
  }
});

const canonicalNameRows: [string, string, boolean][] = [
  ['canonical Hub name', 'docker.io/library/busybox', true],
  ['familiar name', 'busybox', false],
  ['docker.io without library/', 'docker.io/busybox', false],
  ['index.docker.io', 'index.docker.io/library/busybox', false],
  ['with tag', 'docker.io/library/busybox:latest', false],
  ['with digest', `quay.io/a/b@${SHA256_F}`, false],
  ['registry with port', 'registry.example.com:5000/team/app', true],
  ['IPv6 registry', '[::1]:5000/foo', true],
  ['uppercase domain (upstream allows)', 'Foo/bar', true],
  ['uppercase path', 'quay.io/Foo', false],
  ['empty', '', false],
  ['garbage', 'quay.io/a b', false],
];

t.test('isCanonicalRepositoryName', async (tt) => {
  for (const [name, input, want] of canonicalNameRows) tt.equal(isCanonicalRepositoryName(input), want, `${name} [${input}]`);
});

t.test('referenceName / referenceString on hand-built values', async (tt) => {
  tt.equal(referenceName({ domain: 'quay.io', path: 'a/b', tag: 't' }), 'quay.io/a/b');
  tt.equal(referenceString({ domain: 'quay.io', path: 'a/b', tag: 't', digest: SHA256_F }), `quay.io/a/b:t@${SHA256_F}`);
  tt.equal(referenceString({ domain: 'quay.io', path: 'a/b', digest: SHA256_F }), `quay.io/a/b@${SHA256_F}`);
});

t.test('results are frozen and errors are typed', async (tt) => {
  const r = parseNormalizedNamed('busybox');
  tt.ok(Object.isFrozen(r));
  const err = (() => {
    try {
      parseNamed('busybox');
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  tt.ok(err instanceof InvalidReferenceError && err instanceof Error);
  tt.equal((err as Error).name, 'InvalidReferenceError');
});

t.test('hostile inputs are rejected in linear time (no regexp backtracking blow-up)', async (tt) => {
  // A generous bound, not a measurement: each input is 100 000 repetitions (200 000+ characters),
  // parsed in a few ms when linear; backtracking (quadratic or worse) needs 10^10 steps or more,
  // minutes. (A ratio of two sizes was tried before: one GC pause under load failed it.)
  const inputs: Array<(n: number) => string> = [
    (n) => `a${'-a'.repeat(n)}-`,
    (n) => `quay.io/${'a.'.repeat(n)}!`,
    (n) => `${'a-'.repeat(n)}.com:x/y`,
    (n) => `quay.io/a@${'a+'.repeat(n)}:${'f'.repeat(32)}!`,
    (n) => `[${':'.repeat(2 * n)}/x`,
  ];
  for (const make of inputs) {
    const input = make(100_000);
    const start = process.hrtime.bigint();
    tt.throws(() => parseNormalizedNamed(input), InvalidReferenceError);
    isDomain(input);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    tt.ok(ms < 2000, `${make(4).slice(0, 20)}...: ${input.length} characters rejected in ${ms.toFixed(1)} ms`);
  }
});

t.test('isPlainCanonicalName vouches only for names parseNamedContainersImage accepts as they are, without tag or digest', async (t) => {
  const full = (s: string): boolean => {
    try {
      const r = parseNamedContainersImage(s);
      return r.tag === undefined && r.digest === undefined;
    } catch {
      return false;
    }
  };
  // The usual names it must take (else the fast path saves nothing) and near misses it must leave to the full parse.
  for (const s of ['registry.redhat.io/ns-1/operator-1-bundle', 'mirror.example.com:5000/a/b', 'localhost/app', 'localhost:5000/app', 'Quay.IO/ns'])
    t.equal(isPlainCanonicalName(s), true, s);
  for (const s of [
    'docker.io/busybox',
    'docker.io/library/busybox',
    'index.docker.io/a/b',
    'ns/app',
    'quay.io',
    'quay.io/ns/app:tag',
    'quay.io/NS',
    '[::1]:5000/app',
    `q.io/${'a'.repeat(251)}`,
  ])
    t.equal(isPlainCanonicalName(s), false, s);
  const label = fc.constantFrom('a', 'b9', 'Z', 'x-y', 'a--b', '-a', 'a-', '', 'localhost', 'docker', 'io', 'index', '[::1]');
  const host = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));
  const port = fc.constantFrom('', '', ':5000', ':', ':x');
  const component = fc.constantFrom('a', 'b0', 'N', '', 'a.b', 'a__b', 'a___b', 'a--b', '_a', 'a-', 'library', 'x'.repeat(120));
  const path = fc.array(component, { maxLength: 3 }).map((cs) => cs.map((c) => '/' + c).join(''));
  const tail = fc.constantFrom('', '', '', '/', ':tag', '@sha256:' + 'f'.repeat(64), ' ');
  const structured = fc.tuple(host, port, path, tail).map((parts) => parts.join(''));
  const raw = fc.string({ unit: fc.constantFrom('a', 'B', '0', '.', '-', '_', '/', ':', '@', '['), maxLength: 14 });
  fc.assert(
    fc.property(fc.oneof(structured, structured, raw), (s) => !isPlainCanonicalName(s) || full(s)),
    { numRuns: 20000 },
  );
  t.pass('never vouches for a name the full parse refuses');
});

t.test("parseContainersImage: containers/image's reference.Parse, the grammar's domain, the whole name at most 255", async (t) => {
  t.match(parseContainersImage('build_server.corp/app'), { domain: '', path: 'build_server.corp/app' }, "no domain has a '_': all path");
  t.match(parseContainersImage('registry.corp:5000/app:v1'), { domain: 'registry.corp:5000', path: 'app', tag: 'v1' });
  t.match(parseContainersImage('busybox'), { domain: '', path: 'busybox' }, 'not normalised');
  t.match(parseContainersImage('a'.repeat(64)), { path: 'a'.repeat(64) }, 'a 64-hex name is a name here (no identifier rule)');
  t.throws(() => parseContainersImage('[::1]:5000/app'), { message: FORMAT }, 'no bracketed IPv6 in the fork');
  t.throws(() => parseContainersImage('Example/App'), { message: UPPER });
  t.doesNotThrow(() => parseContainersImage(`r.example/${'a'.repeat(245)}`), '255 in all');
  t.throws(() => parseContainersImage(`r.example/${'a'.repeat(246)}`), /must not be more than 255 characters/, 'domain counted');
});
