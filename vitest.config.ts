import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'agent/src/**/*.test.ts',
      'collector/src/**/*.test.ts',
      'client/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // The corpus and lab suites run tshark and real network namespaces: minutes, not seconds.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
