import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'cli',
    include: ['src/**/*.test.ts'],
    // The commands the tests spawn start as the installed `cnm` does (no NODE_EXTRA_CA_CERTS).
    setupFiles: ['./src/test/setup-env.ts'],
    // Kernel tests start many `cnm` processes (each opens the store and reconciles): generous on a busy machine.
    testTimeout: 150_000,
    hookTimeout: 60_000,
  },
})
