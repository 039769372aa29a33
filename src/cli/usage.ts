/** --help texts. Every flag a command accepts is listed here. */
import { DEFAULT_OUTPUT, DEFAULT_POLICY_DIR } from '../defaults.js';

const COMMON = `  --log-level LEVEL        trace, debug, info (default), warn, error, fatal, silent
  --log-format FORMAT      pretty (default) or json
  -h, --help               this help`;

const POLICY = `  --policy-dir DIR         policy fragments (default ${DEFAULT_POLICY_DIR})
  --base FILE              the host's own registries.conf settings to render on top of
                           (default: the copy of the host's file kept at the first render,
                           OUTPUT.before-mirror-policyd, if there is one)
  --allow-unsafe-fragments do not refuse fragments that others than root (or you) could
                           have written; for demos and tests only`;

const TEXTS: Record<string, string> = {
  main: `Usage: mirror-policyd COMMAND [FLAGS]

Renders container-image mirror policies (OpenShift ImageContentSourcePolicy,
ImageDigestMirrorSet, ImageTagMirrorSet objects and native TOML fragments) into
the registries.conf that podman, skopeo, buildah and CRI-O read.

Commands:
  check     validate the policy fragments; exit 1 on any error or conflict
  render    merge the fragments with the base and write registries.conf atomically
  import    print the native TOML fragment equivalent to an OpenShift YAML file

  mirror-policyd COMMAND --help   flags of a command
  mirror-policyd --version        the version

Exit codes: 0 done, 1 invalid policy (nothing written), 2 usage error.
`,
  check: `Usage: mirror-policyd check [FLAGS]

Validates every fragment and their combination; prints each problem as
FILE:LINE:COL: message. Exit 0 when valid, 1 when not, 2 on usage errors.

${POLICY}
  --output FILE            name the output in messages (default ${DEFAULT_OUTPUT})
${COMMON}
`,
  render: `Usage: mirror-policyd render [FLAGS]

Merges the fragments with the base and replaces the output atomically. Strict: on
any invalid fragment or conflict nothing is written (exit 1). A file we did not
write is kept as OUTPUT.before-mirror-policyd before it is first replaced.

${POLICY}
  -o, --output FILE        where to write (default ${DEFAULT_OUTPUT})
  --stdout                 print the result instead of writing it
${COMMON}
`,
  import: `Usage: mirror-policyd import FILE

Prints the native TOML fragment equivalent to the OpenShift objects in FILE.

${COMMON}
`,
};

export function usage(command = 'main'): string {
  return TEXTS[command] ?? (TEXTS.main as string);
}
