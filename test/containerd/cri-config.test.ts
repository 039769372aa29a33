/**
 * Where containerd's config.toml sets the CRI plugin's config_path (src/containerd/cri-config.ts),
 * pure: by the file's version, the deprecated mirrors, imports, and the directories a value names.
 */
import t from 'tap';
import { configPathDirs, criRegistrySettings, criRegistryTable } from '../../src/containerd/cri-config.js';

t.test('config_path is read from the table of the file version: 3, 2, else 1 (plugins.cri)', async (t) => {
  const v2 = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n';
  t.same(criRegistrySettings(v2), { version: 2, configPath: '/etc/containerd/certs.d', legacyMirrors: false, imports: [], criDisabled: false });
  const v3 = 'version = 3\n[plugins."io.containerd.cri.v1.images".registry]\n  config_path = "/a:/b"\n';
  t.equal(criRegistrySettings(v3).configPath, '/a:/b');
  t.equal(criRegistrySettings('[plugins.cri.registry]\nconfig_path = "/v1"\n').configPath, '/v1', 'no version: 1');
  t.equal(criRegistrySettings('version = 2\n[plugins.cri.registry]\nconfig_path = "/v1"\n').configPath, undefined, 'another version’s table is not read');
  t.equal(criRegistrySettings('version = 3\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/x"\n').configPath, undefined);
  t.equal(criRegistryTable(3), '[plugins."io.containerd.cri.v1.images".registry]');
  t.equal(criRegistryTable(2), '[plugins."io.containerd.grpc.v1.cri".registry]');
  t.equal(criRegistryTable(1), '[plugins.cri.registry]');
});

t.test("Debian's shipped config (no registry table), an empty config_path, the deprecated mirrors, imports", async (t) => {
  const debian =
    'version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "/usr/lib/cni"\n';
  t.same(criRegistrySettings(debian), { version: 2, configPath: undefined, legacyMirrors: false, imports: [], criDisabled: false });
  t.equal(criRegistrySettings('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = ""\n').configPath, undefined, 'empty: unset');
  const mirrors = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n';
  t.equal(criRegistrySettings(mirrors).legacyMirrors, true);
  t.same(criRegistrySettings('version = 2\nimports = ["/etc/containerd/conf.d/*.toml", "local.toml", 3]\n').imports, [
    '/etc/containerd/conf.d/*.toml',
    'local.toml',
  ]);
  t.throws(() => criRegistrySettings('version = \n'), 'text containerd could not parse either');
  t.equal(criRegistrySettings('disabled_plugins = ["cri"]\n').criDisabled, true, "Docker's containerd.io config");
  t.equal(criRegistrySettings('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n').criDisabled, true);
  t.equal(criRegistrySettings('version = 3\ndisabled_plugins = ["io.containerd.cri.v1.images"]\n').criDisabled, true);
  t.equal(criRegistrySettings('version = 2\ndisabled_plugins = ["io.containerd.snapshotter.v1.btrfs"]\n').criDisabled, false);
});

t.test('the directories config_path names, in order (empty entries dropped)', async (t) => {
  t.same(configPathDirs('/etc/containerd/certs.d:/etc/docker/certs.d'), ['/etc/containerd/certs.d', '/etc/docker/certs.d']);
  t.same(configPathDirs('/a::/b:'), ['/a', '/b']);
  t.same(configPathDirs(undefined), []);
});
