import { userInfo } from 'node:os';

/**
 * The user's home directory as containers/storage's homedir.Get() finds it, which every
 * containers/image path under the home (auth.json, certs.d, registries.conf) is built from:
 * $HOME, or the password database's entry when $HOME is unset or empty. Not os.homedir(), which
 * returns an empty $HOME as it is: those paths would then be relative to the working directory.
 */
export function homeDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOME) return env.HOME;
  try {
    return userInfo().homedir;
  } catch {
    return ''; // no password entry for our uid: as homedir.Get(), which then gives ""
  }
}
