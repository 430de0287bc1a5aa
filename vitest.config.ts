import { defineConfig } from 'vitest/config';

// Unit tests: no root, no runc, no network beyond loopback servers they start.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
  },
});
