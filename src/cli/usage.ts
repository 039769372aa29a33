/** --help texts. Every flag a command accepts is listed here; those of `run` come from its settings table. */
import { DEFAULT_MAX_FRAGMENT_BYTES, DEFAULT_OUTPUT, DEFAULT_POLICY_DIR } from '../core/defaults.js';
import { RUN_SETTINGS, type RunSetting } from '../daemon/run-options.js';

/** Where a flag's help text starts, and how wide the help is. */
const HELP_COLUMN = 27;
const HELP_WIDTH = 88;

/**
 * `text` wrapped at HELP_WIDTH after `first`, every line but the first indented to
 * HELP_COLUMN. A `[[...]]` example and a `(default ...)` are never broken.
 */
function wrapHelp(first: string, text: string): string {
  const lines: string[] = [];
  let line = first.length < HELP_COLUMN ? first.padEnd(HELP_COLUMN) : `${first}  `;
  let empty = true; // nothing of `text` on this line yet
  for (const [word] of text.matchAll(/\[\[.*?\]\]\S*|\(default [^)]*\)\S*|\S+/g)) {
    if (!empty && line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line);
      line = ' '.repeat(HELP_COLUMN);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  return [...lines, line].join('\n');
}

/** One setting of `run` as its help shows it: the flag (or the file key) with its argument, the text, the default. */
function settingHelp(r: RunSetting): string {
  const shown = r.default !== undefined && r.value.type !== 'boolean' && r.value.type !== 'commands' ? ` (default ${String(r.default)})` : '';
  const name = r.flag === 'none' ? r.name : `--${r.name}`;
  return wrapHelp(`  ${name}${r.arg ? ` ${r.arg}` : ''}`, `${r.help}${shown}`);
}

const settingsHelp = (flag: RunSetting['flag']): string =>
  RUN_SETTINGS.filter((r) => r.flag === flag)
    .map(settingHelp)
    .join('\n');
const RUN_FLAGS = settingsHelp('run');
const FILE_ONLY = settingsHelp('none');

/** The flags every command takes; the log settings are also settings of `run`, so they come from its table. */
const COMMON = `${settingsHelp('common')}
  -h, --help               this help`;

const POLICY = `  --policy-dir DIR         policy fragments (default ${DEFAULT_POLICY_DIR})
  --base FILE              the host's own registries.conf settings to render on top of
                           (default: the newest copy of the host's file a render
                           kept, OUTPUT.before-mirror-policyd[.N], if there is one)
  --allow-unsafe-fragments do not refuse fragments that others than root (or you) could
                           have written; for demos and tests only
  --max-fragment-bytes N   refuse a fragment larger than N bytes (default ${DEFAULT_MAX_FRAGMENT_BYTES})`;

const TEXTS: Record<string, string> = {
  main: `Usage: mirror-policyd COMMAND [FLAGS]

Renders container-image mirror policies (OpenShift ImageContentSourcePolicy,
ImageDigestMirrorSet, ImageTagMirrorSet objects and native TOML fragments) into
the registries.conf that podman, skopeo, buildah and CRI-O read.

Commands:
  check     validate the policy fragments; exit 1 on any error or conflict
  render    merge the fragments with the base and write registries.conf atomically
  import    print the native TOML fragment equivalent to OpenShift objects (YAML or
            JSON; - reads stdin)
  run       the daemon: keep the output rendered, live, under systemd
  status    ask the running daemon how it is (exit 0 healthy, 1 degraded, 3 not
            running, 4 cannot tell)
  reload    make the running daemon re-read its config and policy, and wait until
            the output has them (exit 1 when the config file is refused)
  restore   put back the registries.conf adopted at first start (for uninstalling)
  resolve   the sources a pull of an image reference tries, in containers/image's order
  pull      pull an image through those sources into an OCI layout, skipping dead
            mirrors

  mirror-policyd COMMAND --help   flags of a command
  mirror-policyd --version        the version

Exit codes: 0 done, 1 invalid policy or failure (nothing written), 2 usage error;
status and reload also 3 (not running) and 4 (cannot tell). Each command's --help has
its own.
`,
  check: `Usage: mirror-policyd check [FLAGS] [FILE...]

Validates every fragment and their combination; prints each problem as
FILE:LINE:COL: error: message (or warning:), FILE as you named it (DIR/NAME for a
fragment of the policy directory). With FILEs: checks them together with the policy
directory as it would be with them dropped in (a FILE replaces the fragment of its base
name), before you do.
A policy directory that does not exist is an error; an empty one is an empty policy.
Exit 0 when valid (warnings allowed), 1 when not, 2 on usage errors.

${POLICY}
  --output FILE            name the output in messages, and look for registries.conf.d
                           drop-ins beside it that shadow ours
                           (default ${DEFAULT_OUTPUT})
  --json                   print {"valid", "fragments", "tables", "mirrors",
                           "diagnostics": [{"file", "line", "column", "severity",
                           "message", "related"}]} on stdout (line and column null when
                           unknown)
  --containerd-hosts-dir DIR  also say (warnings) what containerd's hosts.toml cannot
                           express of the policy (namespace-scoped, wildcard, rewritten
                           or blocked sources; tag-only mirrors)
  --local-mirror HOST:PORT with --containerd-hosts-dir: as the daemon with this
                           local-mirror setting, which routes those sources (but
                           wildcards) through it
  --containerd-config FILE with --containerd-hosts-dir: containerd's config, read to
                           warn when its CRI plugin's config_path does not name DIR
                           (default /etc/containerd/config.toml)
${COMMON}
`,
  render: `Usage: mirror-policyd render [FLAGS]

Merges the fragments with the base and replaces the output atomically. Strict: on
any invalid fragment or conflict nothing is written (exit 1). A file we did not
write is kept as OUTPUT.before-mirror-policyd before it is first replaced. A symbolic
link at OUTPUT is replaced by a regular file (mode 0644), its target left alone.
Exit 0 written (or unchanged, or printed), 1 nothing written (invalid policy, missing
policy directory, a running daemon manages OUTPUT) or a hosts.toml not ours left alone,
2 usage error.

${POLICY}
  -o, --output FILE        where to write (default ${DEFAULT_OUTPUT})
  --stdout                 print the result instead of writing it
  --diff                   print what a render would change in OUTPUT, as a unified
                           diff (nothing written; exit 0 with or without changes, "no
                           change" logged when none)
  --state-dir DIR          the daemon's state dir, to find out whether a running
                           daemon manages OUTPUT (default /var/lib/mirror-policyd)
  --force                  write even when a running daemon manages OUTPUT
  --containerd-hosts-dir DIR  also write containerd's DIR/<host>/hosts.toml from the
                           same policy (only hosts we manage; a hosts.toml of someone
                           else is left alone and reported, exit 1); e.g.
                           /etc/containerd/certs.d
  --containerd-config FILE with --containerd-hosts-dir: containerd's config, read to
                           warn when its CRI plugin's config_path does not name DIR
                           (default /etc/containerd/config.toml)
${COMMON}
`,
  run: `Usage: mirror-policyd run [FLAGS]

Keeps OUTPUT equal to the render of the policy directory, live: watches it, re-renders
on every change (coalescing bursts), keeps each fragment's last valid content in effect
when it breaks, adopts the host's own file as the base, restores hand edits (keeping a
copy). Runs in the foreground; Type=notify under systemd; SIGHUP re-reads the config
and re-renders; SIGTERM stops after any write in flight. Flags win over the config file.

${RUN_FLAGS}
${COMMON}

In the config file only:
${FILE_ONLY}
Exit codes: 0 stopped cleanly, 1 cannot start, 2 usage or configuration error.
`,
  status: `Usage: mirror-policyd status [--json] [--config FILE] [--control-socket PATH]
                             [--timeout-ms N]

Shows the running daemon's state: every fragment with its state and errors, the last
render (time, hash), the base, drift events, shadowing drop-ins, and every mirror
endpoint (up, down, probe, unknown, or demoted by health-aware order) with its last
probe, latency and why.
Exit 0 healthy, 1 degraded, 3 not running, 4 cannot tell: permission denied on the
socket (run as root), no answer in time, or an answer that is not the daemon's; the
reason in one line on stderr.

  --json                   machine-readable; {"state": "not running"} or
                           {"state": "unknown", "reason"} when there is no status
  --config FILE            the daemon's config file, whose control-socket is asked
                           when --control-socket is not given (default
                           /etc/mirror-policyd/config.toml)
  --control-socket PATH    (default: the config file's, else
                           /run/mirror-policyd/control.sock)
  --timeout-ms N           how long to wait for the answer (default 5000)
${COMMON}
`,
  reload: `Usage: mirror-policyd reload [--pid PID] [--config FILE] [--control-socket PATH]
                             [--timeout-ms N]

Sends SIGHUP to the running daemon and waits until a reload begun after it has finished:
the config file and the policy directory read again, the output rendered (and the
after-render commands run). Then says how it ended. The unit's ExecReload=, so that
\`systemctl reload mirror-policyd\` returns only then, and fails when the reload did not
take. SIGHUPs coalesce: a reload begun after this command started serves it, whoever
asked for it; when several have finished, the latest is reported.
Exit 0 reloaded (the daemon may still be degraded for another reason: listed), 1 not
taken: the config file refused (FILE:LINE:COL: message; the previous settings stay in
effect), the policy not rendered, the reload failed, or --pid is not the daemon's
(nothing sent); 3 not running (or stopped before the reload finished); 4 cannot tell: no
reload finished within --timeout-ms, permission denied, an older daemon without reload
counts (restart it), or an answer that is not the daemon's.

  --pid PID                the daemon's pid as the caller knows it (systemd's $MAINPID):
                           refused, nothing sent, when the daemon answering at the
                           control socket is another process
  --config FILE            the daemon's config file, whose control-socket is asked
                           when --control-socket is not given (default
                           /etc/mirror-policyd/config.toml)
  --control-socket PATH    (default: the config file's, else
                           /run/mirror-policyd/control.sock)
  --timeout-ms N           how long to wait for the reload (default 60000)
${COMMON}
`,
  restore: `Usage: mirror-policyd restore [--config FILE] [--state-dir DIR] [--output FILE]
                              [--containerd-hosts-dir DIR] [--force]

Puts back the registries.conf the daemon adopted at its first start (kept in the state
dir), or removes our file when there was none before; our render edited by hand is kept
beside it first (FILE.before-restore), a file not ours is left as it is. With a
containerd hosts dir, our hosts.toml files there are removed too. Refuses while the
daemon runs unless --force, and a config file it cannot use unless --state-dir is
given. Exit 0 restored (or nothing to do), 1 refused, 2 usage error.

  --config FILE            the daemon's config file, for the paths below (default
                           /etc/mirror-policyd/config.toml, may be absent)
  --state-dir DIR          (default: the config file's, else /var/lib/mirror-policyd)
  --output FILE            (default: the output the daemon managed, else the config
                           file's)
  --containerd-hosts-dir DIR  (default: the config file's; none unless set)
  --force                  even if a daemon is running
${COMMON}
`,
  pull: `Usage: mirror-policyd pull REF --dest DIR [FLAGS]

Pulls REF (a docker reference as skopeo takes it) through the sources of
registries.conf, in containers/image's order, into an OCI image layout at DIR
(\`skopeo copy oci:DIR ...\` reads it). Unlike containers/image it remembers dead
mirrors (a health cache shared with the daemon in STATE/health.json) and skips them,
verifies every digest, and fetches a blob that fails from one source from the next one.
Reports which source served what.

  --dest DIR               the OCI layout to write (required)
  --registries-conf FILE   main registries.conf (default as containers/image:
                           ~/.config/containers/registries.conf or
                           /etc/containers/registries.conf, plus the registries.conf.d
                           drop-ins)
  --authfile FILE          credentials (default: containers-auth.json(5) lookup order),
                           registries.conf's credential-helpers asked in their order
  --cert-dir DIR           CA and client certificates for every host (default: the
                           first of ~/.config/containers/certs.d/HOST[:PORT]/,
                           /etc/containers/certs.d/..., /etc/docker/certs.d/...)
  --platform OS/ARCH[/VARIANT]  which image of an index (default: this host's)
  --state-dir DIR          where the health cache lives
                           (default /var/lib/mirror-policyd)
  --connect-timeout-ms N   per attempt (default 3000)
  --headers-timeout-ms N   per attempt (default 10000)
  --body-timeout-ms N      idle time while reading a body (default 30000)
  --json                   machine-readable report
${COMMON}
Exit codes: 0 pulled, 1 failed (every attempt listed), 2 usage error.
`,
  resolve: `Usage: mirror-policyd resolve REF... [--registries-conf FILE] [--state-dir DIR] [--json]
       mirror-policyd resolve REF... --runtime containerd [--hosts-dir DIR] [--json]

Prints the sources a pull of REF tries, in order, as containers/image (skopeo, podman,
CRI-O) tries them with the same registries.conf set: the mirrors the longest matching
[[registry]] keeps for this pull (digest-only mirrors only for digests, tag-only only
for tags), then the primary, always last. Each source shows its rewritten reference, its
endpoint, and whether it is insecure or blocked (blocked is decided by the table the
rewritten reference falls under). A name without tag or digest gets :latest; short
names are Docker Hub names (aliases and search registries are not consulted).
Several REFs are resolved in the order given, against the configuration read once:
their reports a blank line apart.

Configuration read (as containers/image 5.x up to 5.39): FILE, or
$HOME/.config/containers/registries.conf if it exists, else
/etc/containers/registries.conf; plus the *.conf drop-ins of
/etc/containers/registries.conf.d (not when the user's file is used) and
$HOME/.config/containers/registries.conf.d.

  --registries-conf FILE   the main registries.conf (must exist); the drop-in
                           directories are still read, as skopeo reads them
  --state-dir DIR          the health cache shared with pull and the daemon
                           (default /var/lib/mirror-policyd): health is up, down,
                           probe (down, but due for one more try) or unknown
  --json                   {"reference", "sources": [{"reference", "endpoint", "role",
                           "insecure", "blocked", "health"}]}; for several REFs an
                           array of those, a refused REF as {"reference", "error"}
  --runtime containerd     what containerd tries instead, from REF's registry's
                           DIR/<host>/hosts.toml: its [host] entries in order (those
                           with "resolve" for a tag, "pull" for a digest), then server;
                           for a tag, then the "pull" hosts that fetch its content
                           by digest, digest-only mirrors included ("content")
  --hosts-dir DIR          containerd's hosts directory
                           (default /etc/containerd/certs.d)
${COMMON}
Exit codes: 0 resolved, 1 a reference or the configuration is refused (as
containers/image would refuse it; the reason on stderr, the other REFs still
printed), 2 usage error.
`,
  import: `Usage: mirror-policyd import FILE | -

Prints the native TOML fragment equivalent to the OpenShift objects in FILE (- reads
standard input). A native TOML fragment is refused (exit 1): it needs no import.
Exit 0 printed, 1 unreadable, invalid or already native, 2 usage error.

${COMMON}
`,
};

export function usage(command = 'main'): string {
  return (Object.hasOwn(TEXTS, command) ? TEXTS[command] : undefined) ?? (TEXTS.main as string);
}
