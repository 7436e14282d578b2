import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'cli',
    include: ['src/**/*.test.ts'],
    // Kernel tests start many `cnm` processes (each opens the store and reconciles): generous on a busy machine.
    testTimeout: 150_000,
    hookTimeout: 60_000,
  },
})
