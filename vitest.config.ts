import { defineConfig } from 'vitest/config';

// Integration tests start real sandboxes, CRIU and servers: generous timeouts, and files run
// one at a time (2-core CI machine; several platforms at once would only add noise and flakiness).
export default defineConfig({
  // The worker imports the port bridge's readiness protocol from its CommonJS source (.cts), which
  // Vite's default TypeScript filter leaves out.
  esbuild: { include: /\.([cm]?ts|[jt]sx)$/ },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
