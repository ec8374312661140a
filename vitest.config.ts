import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import @s3crypt/* packages by name and run against their TypeScript sources, not dist/.
const packageSources = { find: /^@s3crypt\/([a-z0-9-]+)$/, replacement: fileURLToPath(new URL('./packages/$1/src/index.ts', import.meta.url)) };
// Except the client: the suite's copy tees every audit event and records every key it meets, for the
// no-secrets check that runs when the suite ends (test/harness/audit-capture.ts).
const auditedClient = { find: /^@s3crypt\/client$/, replacement: fileURLToPath(new URL('./test/harness/audited-client.ts', import.meta.url)) };

export default defineConfig({
  resolve: { alias: [auditedClient, packageSources] },
  test: {
    // Real servers on a 2-core machine: one test file at a time keeps start-up and timings sane.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          globalSetup: ['test/harness/audit-capture.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts', 'test/harness/audit-capture.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
