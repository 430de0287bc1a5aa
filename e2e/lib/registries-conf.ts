import type { E2eEnvironment } from '../setup/global-setup.js';

/**
 * A registries.conf for the test registries: both are insecure (plain
 * HTTP on loopback); `mirrored.example` has no server of its own and is
 * served through mirrors, the first of which is dead.
 */
export function testRegistriesConf(env: E2eEnvironment, deadPort: number): string {
  return `unqualified-search-registries = ["${env.openRegistry}"]

[[registry]]
location = "${env.openRegistry}"
insecure = true

[[registry]]
location = "${env.authRegistry}"
insecure = true

[[registry]]
location = "127.0.0.1:${deadPort}"
insecure = true

[[registry]]
prefix = "mirrored.example"
location = "127.0.0.1:${deadPort}"
insecure = true
[[registry.mirror]]
location = "127.0.0.1:${deadPort}/nothing"
insecure = true
[[registry.mirror]]
location = "${env.openRegistry}"
insecure = true

[[registry]]
location = "blocked.example"
blocked = true

[aliases]
"berthbox" = "mirrored.example/berth-test/busybox"
`;
}

/** berth.conf settings every e2e daemon uses: the fixture pause image. */
export function testBerthConf(env: E2eEnvironment): string {
  return `[image]\npause_image = "${env.openRegistry}/berth-test/pause:1"\n`;
}
