/** Large policies as real tools write them, for the tests and the bench of large lists (issue 15). */

/** An ImageDigestMirrorSet as oc-mirror writes it for a catalog: one entry per operator image, one mirror each. */
export function ocMirrorIdms(entries: number): string {
  const lines = ['apiVersion: config.openshift.io/v1', 'kind: ImageDigestMirrorSet', 'metadata:', '  name: idms-operator-0', 'spec:', '  imageDigestMirrors:'];
  for (let i = 0; i < entries; i++) {
    const repo = `ns-${i % 50}/operator-${i}-bundle`;
    lines.push('  - mirrors:', `    - mirror.example.com:5000/${repo}`, `    source: registry.redhat.io/${repo}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A native fragment listing `entries` insecure scopes, each its own registry (one table each). */
export function insecureList(entries: number): string {
  const lines = ['insecure-registries = ['];
  for (let i = 0; i < entries; i++) lines.push(`  "reg-${i}.example.com/ns-${i % 97}",`);
  return `${lines.join('\n')}\n]\n`;
}
