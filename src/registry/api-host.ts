/**
 * Where a registry's API is reached. containers/image (docker/docker_client.go, newDockerClient)
 * sends the requests for `docker.io` to `registry-1.docker.io`; its certs.d directory, its
 * credentials and our health keys keep `docker.io`.
 */
const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

export function apiHost(host: string): string {
  return host === DOCKER_HUB ? DOCKER_HUB_API : host;
}
