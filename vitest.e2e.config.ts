import { defineConfig } from 'vitest/config';

// End-to-end tests: the real daemon, registry, runc, conmon and CNI plugins.
// Files run one at a time: they share the host's kernel state.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    globalSetup: ['e2e/setup/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
